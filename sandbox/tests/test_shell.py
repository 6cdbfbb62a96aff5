"""The simulated container shell on its own (no server): what a command prints and its exit status,
the container's environment and files built from a pod spec and the store, the tty line discipline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from sandbox import shell as shell_mod
from sandbox.cluster import ClusterSpec, NodeConfig, SimCluster
from sandbox.resources import CONFIGMAPS, PODS, SECRETS, SERVICES
from sandbox.shell import ContainerContext, ExecNotFound, Shell, TerminalSize, container_context


class Run:
    """One Shell with captured stdout/stderr and scripted stdin."""

    def __init__(self, ctx: ContainerContext, *, tty: bool = False, stdin: list[bytes] | None = None,
                 size: TerminalSize | None = None) -> None:
        self.out: list[bytes] = []
        self.err: list[bytes] = []
        self._stdin = list(stdin or [])

        async def out(b: bytes) -> None:
            self.out.append(b)

        async def err(b: bytes) -> None:
            self.err.append(b)

        async def read() -> bytes | None:
            return self._stdin.pop(0) if self._stdin else None

        self.shell = Shell(ctx, tty=tty, out=out, err=err, read_input=read, size=size)

    async def __call__(self, *argv: str) -> int:
        return await self.shell.run(list(argv))

    @property
    def stdout(self) -> str:
        return b"".join(self.out).decode()

    @property
    def stderr(self) -> str:
        return b"".join(self.err).decode()


def ctx(**env: str) -> ContainerContext:
    c = ContainerContext(hostname="web-0", env={"PATH": shell_mod.DEFAULT_PATH, "HOSTNAME": "web-0", **env,
                                                "HOME": "/root"})
    c.dirs.update({"/", "/etc", "/etc/config", "/tmp", "/root"})
    c.files["/etc/config/app.conf"] = b"port=80\nmode=prod\n"
    c.files["/etc/config/level"] = b"debug"
    return c


async def test_echo_expands_variables_and_respects_quotes() -> None:
    r = Run(ctx(GREETING="hello world"))
    code = await r("sh", "-c", "echo $GREETING; echo \"${GREETING}!\" '$GREETING'; echo -n a; echo b; X=1; "
                               "echo $X $NOPE. $?")
    assert code == 0
    assert r.stdout == "hello world\nhello world! $GREETING\nab\n1 . 0\n"


async def test_unknown_command_is_127_as_sh_answers() -> None:
    r = Run(ctx())
    assert await r("sh", "-c", "frobnicate --now") == 127
    assert r.stderr == "sh: frobnicate: not found\n"
    r2 = Run(ctx())
    assert await r2("sh", "-c", "false || echo fallback && exit 7; echo never") == 7
    assert r2.stdout == "fallback\n"


async def test_exec_of_a_missing_program_is_refused_like_the_runtime() -> None:
    r = Run(ctx())
    with pytest.raises(ExecNotFound) as info:
        await r("frobnicate")
    assert info.value.program == "frobnicate"
    assert await Run(ctx())("/bin/hostname") == 0


async def test_files_ls_cat_cd_pwd_and_globs() -> None:
    r = Run(ctx())
    code = await r("sh", "-c", "ls /etc/config; cd /etc/config && pwd && cat level; echo; cat *.conf | grep mode; "
                               "cat missing")
    assert code == 1
    assert r.stdout == "app.conf\nlevel\n/etc/config\ndebug\nmode=prod\n"
    assert r.stderr == "cat: can't open 'missing': No such file or directory\n"
    r2 = Run(ctx())
    assert await r2("ls", "/nope") == 1
    assert r2.stderr == "ls: /nope: No such file or directory\n"
    r3 = Run(ctx())
    assert await r3("sh", "-c", "cd /nope") == 2
    assert "can't cd to /nope" in r3.stderr


async def test_env_ps_hostname_and_exit_codes() -> None:
    r = Run(ctx(A="1"))
    assert await r("env") == 0
    assert r.stdout.splitlines() == [f"PATH={shell_mod.DEFAULT_PATH}", "HOSTNAME=web-0", "A=1", "HOME=/root"]
    r2 = Run(ctx())
    assert await r2("sh", "-c", "hostname; ps") == 0
    lines = r2.stdout.splitlines()
    assert lines[0] == "web-0"
    assert lines[1].split() == ["PID", "USER", "TIME", "COMMAND"]
    assert lines[2].split()[0] == "1"
    r3 = Run(ctx())
    assert await r3("sh", "-c", "exit 300") == 300 & 0xFF


async def test_sleep_is_bounded() -> None:
    old = shell_mod.MAX_SLEEP
    shell_mod.MAX_SLEEP = 0.2
    try:
        t0 = time.monotonic()
        assert await Run(ctx())("sleep", "3600") == 0
        assert time.monotonic() - t0 < 2
    finally:
        shell_mod.MAX_SLEEP = old
    r = Run(ctx())
    assert await r("sleep", "soon") == 1
    assert r.stderr == "sleep: invalid number 'soon'\n"


async def test_non_interactive_sh_reads_commands_from_stdin() -> None:
    r = Run(ctx(), stdin=[b"echo one\nech", b"o two\n", b"false"])
    assert await r("sh") == 1
    assert r.stdout == "one\ntwo\n"


async def test_tty_prompt_echo_backspace_and_ctrl_d() -> None:
    r = Run(ctx(), tty=True, size=TerminalSize(cols=120, rows=40),
            stdin=[b"echo hx\x7fi\r", b"stty size\r", b"\x03", b"\x04"])
    assert await r("/bin/sh") == 130
    text = r.stdout
    assert text.startswith("# echo hx\b \bi\r\nhi\r\n# ")
    assert "40 120\r\n" in text
    assert "^C\r\n# " in text
    assert r.err == []  # a terminal has one output stream


async def test_tty_input_may_split_a_character() -> None:
    r = Run(ctx(), tty=True, stdin=[b"echo caf\xc3", b"\xa9\r", b"exit\r"])
    assert await r("sh") == 0
    assert "café\r\ncafé\r\n" in r.stdout


async def test_stty_without_a_terminal() -> None:
    r = Run(ctx())
    assert await r("stty", "size") == 1
    assert r.stderr == "stty: standard input: Not a tty\n"


def _cluster() -> SimCluster:
    return SimCluster(ClusterSpec(name="sh", nodes=NodeConfig(count=1)))


async def test_container_context_resolves_env_refs_and_mounts() -> None:
    cluster = _cluster()
    try:
        store = cluster.store
        store.create(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "default"},
                                  "data": {"LEVEL": "debug", "app.conf": "port=80\n"}})
        store.create(SECRETS, {"metadata": {"name": "creds", "namespace": "default"},
                               "data": {"PASSWORD": "czNjcmV0", "token": "dG9r"}})
        store.create(SERVICES, {"metadata": {"name": "api-db", "namespace": "default"},
                                "spec": {"ports": [{"name": "pg", "port": 5432}]}})
        pod: dict[str, Any] = {"metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
                               "spec": {"nodeName": "sh-node-1", "containers": [{
                                   "name": "app", "image": "registry.local/web:1.2", "args": ["serve"],
                                   "env": [{"name": "LIT", "value": "x-$(LEVEL)"},
                                           {"name": "LEVEL2", "valueFrom": {"configMapKeyRef": {"name": "cfg",
                                                                                                "key": "LEVEL"}}},
                                           {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds",
                                                                                         "key": "PASSWORD"}}},
                                           {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                           {"name": "APP", "valueFrom": {"fieldRef": {
                                               "fieldPath": "metadata.labels['app']"}}},
                                           {"name": "MISSING", "valueFrom": {"configMapKeyRef": {
                                               "name": "nope", "key": "k", "optional": True}}}],
                                   "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
                                   "volumeMounts": [{"name": "conf", "mountPath": "/etc/app"},
                                                    {"name": "secret", "mountPath": "/run/secrets/app"},
                                                    {"name": "one", "mountPath": "/etc/level", "subPath": "LEVEL"}]}],
                                   "volumes": [{"name": "conf", "configMap": {"name": "cfg"}},
                                               {"name": "secret", "secret": {"secretName": "creds",
                                                                             "items": [{"key": "token",
                                                                                        "path": "t/token"}]}},
                                               {"name": "one", "configMap": {"name": "cfg"}}]}}
        created = store.create(PODS, pod)
        c = container_context(store, created, "app")
        env = c.env
        assert list(env)[:2] == ["PATH", "HOSTNAME"]
        assert env["HOSTNAME"] == "web-0"
        assert env["CFG_LEVEL"] == "debug"
        assert env["LIT"] == "x-$(LEVEL)"  # only earlier variables expand; LEVEL is CFG_LEVEL here
        assert env["LEVEL2"] == "debug"
        assert env["PW"] == "s3cret"
        assert env["POD"] == "web-0"
        assert env["APP"] == "web"
        assert "MISSING" not in env
        assert env["API_DB_SERVICE_PORT"] == "5432"
        assert env["API_DB_SERVICE_PORT_PG"] == "5432"
        assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
        assert c.files["/etc/app/app.conf"] == b"port=80\n"
        assert c.files["/run/secrets/app/t/token"] == b"tok"
        assert "/run/secrets/app/PASSWORD" not in c.files
        assert c.files["/etc/level"] == b"debug"
        assert c.files["/var/run/secrets/kubernetes.io/serviceaccount/namespace"] == b"default"
        assert c.main_process == "serve"
        r = Run(c)
        assert await r("sh", "-c", "ls /etc/app; ls /run/secrets/app/t") == 0
        assert r.stdout == "LEVEL\napp.conf\ntoken\n"
    finally:
        cluster.store.close()
        await asyncio.sleep(0)
