"""The exec channel protocol's framing (clusters/kube/exec.py), byte for byte as
k8s.io/apimachinery's remotecommand and kubectl write it, and the relay's pure rules
(clusters/api/terminal.py: which container, which pods cannot take a shell, the socket's query).
Pure functions: no cluster needed."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from clusters.kube import exec as kexec


def test_path_carries_every_command_word_and_the_streams_asked_for() -> None:
    path = kexec.exec_path("team-a", "web-1", command=["sh", "-c", "echo a b&c"], container="app",
                           stdin=True, tty=True)
    parts = urlsplit(path)
    assert parts.path == "/api/v1/namespaces/team-a/pods/web-1/exec"
    assert parse_qsl(parts.query) == [("command", "sh"), ("command", "-c"), ("command", "echo a b&c"),
                                      ("container", "app"), ("stdin", "true"), ("stdout", "true"),
                                      ("tty", "true")]  # no stderr with a TTY: the server merges it into stdout


def test_path_without_tty_asks_for_stderr_and_no_stdin() -> None:
    query = dict(parse_qsl(urlsplit(kexec.exec_path("ns", "p", command=["env"])).query))
    assert query == {"command": "env", "stdout": "true", "stderr": "true"}
    with pytest.raises(ValueError):
        kexec.exec_path("ns", "p", command=[])


def test_messages_start_with_their_channel_byte() -> None:
    assert kexec.encode(kexec.STDIN, b"ls\r") == b"\x00ls\r"
    assert kexec.decode(b"\x01hello") == (kexec.STDOUT, b"hello")
    assert kexec.decode(b"\x02") == (kexec.STDERR, b"")  # the "stream is open" message
    assert kexec.decode(b"") == (-1, b"")
    with pytest.raises(ValueError):
        kexec.encode(256)


def test_resize_is_terminal_size_json_on_channel_four() -> None:
    frame = kexec.resize_frame(120, 40)
    assert frame[0] == 4
    assert json.loads(frame[1:]) == {"Width": 120, "Height": 40}
    for cols, rows in ((0, 10), (10, 0), (70000, 10)):
        with pytest.raises(ValueError):
            kexec.resize_frame(cols, rows)


def test_v5_closes_stdin_with_channel_255() -> None:
    assert kexec.close_frame() == b"\xff\x00"


def test_exit_status_of_success_and_of_a_non_zero_exit_code() -> None:
    assert kexec.exit_status(b'{"metadata":{},"status":"Success"}') == kexec.ExitStatus(0)
    failed = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
              "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], "
                         "exit code 3",
              "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
    status = kexec.exit_status(json.dumps(failed).encode())
    assert status.code == 3
    assert "exit code 3" in status.message


def test_exit_status_of_a_failure_without_exit_code_says_why() -> None:
    status = kexec.exit_status({"status": "Failure", "reason": "InternalError",
                                "message": 'exec: "/bin/bash": stat /bin/bash: no such file or directory'})
    assert status.code is None
    assert "no such file" in status.message
    assert kexec.exit_status(b"plain text error from v1\n") == kexec.ExitStatus(None, "plain text error from v1")
    odd = {"status": "Failure", "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode",
                                                                                      "message": "x"}]}}
    assert kexec.exit_status(odd).code is None


# ---------------------------------------------------------------------------- the relay's pure rules


def _pod(**status: object) -> dict[str, object]:
    return {"metadata": {"name": "web-1", "namespace": "shop",
                         "annotations": {"kubectl.kubernetes.io/default-container": "app"}},
            "spec": {"containers": [{"name": "init-helper"}, {"name": "app"}],
                     "ephemeralContainers": [{"name": "debugger"}]},
            "status": {"phase": "Running", **status}}


def test_the_container_defaults_as_kubectl_chooses_it() -> None:
    from clusters.api.terminal import exec_container

    assert exec_container(_pod(), "") == "app"  # the default-container annotation
    plain = _pod()
    plain["metadata"] = {"name": "web-1", "namespace": "shop"}
    assert exec_container(plain, "") == "init-helper"  # else the first container
    assert exec_container(_pod(), "debugger") == "debugger"  # ephemeral containers too


def test_a_container_or_pod_that_cannot_take_a_shell_is_refused_with_its_reason() -> None:
    from clusters.api.terminal import exec_container
    from portal import errors

    with pytest.raises(errors.NotFound) as missing:
        exec_container(_pod(), "nope")
    assert missing.value.code == "container_not_found"
    assert missing.value.params["containers"] == ["init-helper", "app", "debugger"]
    with pytest.raises(errors.Conflict) as pending:
        exec_container(_pod(phase="Pending"), "app")
    assert (pending.value.code, pending.value.params["phase"]) == ("pod_not_running", "Pending")
    terminating = _pod()
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"  # type: ignore[index]
    with pytest.raises(errors.Conflict) as going:
        exec_container(terminating, "app")
    assert going.value.params["phase"] == "Terminating"
    crashing = _pod(containerStatuses=[{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}])
    with pytest.raises(errors.Conflict) as waiting:
        exec_container(crashing, "app")
    assert (waiting.value.code, waiting.value.params["state"]) == ("container_not_running", "CrashLoopBackOff")
    running = _pod(containerStatuses=[{"name": "app", "state": {"running": {"startedAt": "now"}}}])
    assert exec_container(running, "app") == "app"


def test_the_socket_query_is_checked_field_by_field() -> None:
    from clusters.api.terminal import parse_target
    from portal import errors

    target = parse_target(b"cluster=4&namespace=shop&pod=web-1&container=app&command=%2Fbin%2Fbash")
    assert (target.cluster_id, target.namespace, target.pod, target.container, target.command) == (
        4, "shop", "web-1", "app", "/bin/bash")
    assert parse_target(b"cluster=4&namespace=shop&pod=web-1").command == "/bin/sh"
    with pytest.raises(errors.Invalid) as bad:
        parse_target(b"cluster=x&namespace=Shop!&pod=&container=A_B&command=rm%20-rf%20%2F")
    assert bad.value.code == "exec_invalid"
    assert sorted(bad.value.errors) == ["cluster", "command", "container", "namespace", "pod"]


def test_the_audited_address_follows_the_proxy_setting(settings: object) -> None:
    from clusters.api.terminal import socket_client_ip

    scope = {"client": ("10.0.0.5", 41000), "headers": [(b"x-forwarded-for", b"198.51.100.4, 10.0.0.1")]}
    settings.PORTAL_TRUST_X_FORWARDED_FOR = False  # type: ignore[attr-defined]
    assert socket_client_ip(scope) == "10.0.0.5"
    settings.PORTAL_TRUST_X_FORWARDED_FOR = True  # type: ignore[attr-defined]
    assert socket_client_ip(scope) == "198.51.100.4"
    assert socket_client_ip({"headers": []}) is None
