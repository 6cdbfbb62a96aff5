"""Real processes for the fault suite: a private PostgreSQL, Redis, Celery workers, the web server
and watchers, each started as a subprocess the test can kill, stop and restart.

Nothing here touches the shared services (PostgreSQL 54329, Redis 63799): every server gets its
own port and its own directory under ``/tmp`` (PostgreSQL runs as the ``postgres`` user when the
tests run as root, so its directory must be reachable by that user; pytest's ``tmp_path`` is not).

API (stable; ``tests/faults/test_*.py`` of FAULTS and STORM import it — ask FAULTS for changes):

``Stack(root=None, *, db_name="portal")``
    Owns one private set of servers. ``stack.postgres`` / ``stack.redis`` are the servers;
    ``stack.env(**overrides)`` is the environment a portal process needs to use them;
    ``stack.migrate()`` migrates the private database (cached: the first migration of a given set
    of migration files is kept as a data-directory template under ``/tmp/portal-faults-cache``,
    later stacks copy it, ~1 s instead of ~40 s); ``stack.worker(name, queues=QUEUES)``,
    ``stack.web()``, ``stack.watcher(holder)``, ``stack.beat()`` create (not start) portal processes
    (keyword arguments are extra environment variables, e.g. ``PORTAL_DEPLOY_RETRY_SECONDS="2"``);
    ``stack.close()`` kills the portal processes it made and stops its servers, in reverse order. ``stack.dsn`` is a libpq URL
    of the private database; ``stack.sql(query, *params)`` runs one statement there and returns the
    rows (psycopg, autocommit, a fresh connection each time, so it works across restarts);
    ``stack.run_django(code)`` runs ``code`` in a fresh process with Django set up on the private
    services and returns the JSON value it assigns to ``result``; ``stack.api_token(username, role)``
    makes a user (admin by default) and returns a new API token (``Authorization: Bearer <token>``);
    ``stack.logs()`` is every process's log tail for an assertion message.

Every handle (``Postgres``, ``Redis``, ``CeleryWorker``, ``WebServer``, ``Watcher``, ``Beat``; all ``Proc``):
    ``start()`` / ``wait_ready(timeout=60)`` (returns self; raises ``ProcError`` with the log's tail),
    ``kill(sig=signal.SIGKILL)`` (signals the whole process group, as a crash would, and reaps it),
    ``stop(timeout=20)`` (a clean shutdown: SIGTERM, or the server's own fast-shutdown signal, then
    SIGKILL after ``timeout``), ``restart()`` (stop, start, wait_ready), ``alive``, ``pid``,
    ``log`` (the file stdout and stderr go to) and ``log_tail(lines=40)`` for failure messages.
    ``start()`` after ``kill()`` starts a fresh process on the same port and directory.

Helpers: ``small_tmpfs(size_mb)`` (a context manager mounting a tmpfs, root only),
``fill_filesystem(path)`` (zeros until ENOSPC), ``cpu_seconds(proc)`` (CPU of a process group).

Extras: ``Postgres.port``/``url(db)``; ``Redis.port``/``url(db=0)``; ``WebServer.port``/``base_url``/
``get(path)`` (an ``http.client`` request returning ``(status, body_bytes)``; never raises for HTTP
errors, ``ProcError`` when nothing answers); ``CeleryWorker.node`` (its Celery node name) and
``ping()``; ``Watcher.holder``. ``free_port()`` returns an unused loopback TCP port.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("control", "deploys", "long", "beat")
PG_USER = "portal"
PG_PASSWORD = "portal"
CACHE_DIR = Path("/tmp/portal-faults-cache")


class ProcError(RuntimeError):
    """A process did not start, did not become ready, or died; the message carries its log's tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise ProcError("PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/services.sh install)")
    return candidates[-1].parent


def _pg_account() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when we are root (it refuses to run as root), else None."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


class Proc:
    """One subprocess in its own process group, its output in ``log``."""

    name = "process"

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = dict(env or os.environ)
        self.log = workdir / f"{self.safe_name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def safe_name(self) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)

    # subclasses fill these in
    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return self.alive

    def popen_kwargs(self) -> dict[str, Any]:
        return {}

    stop_signal = signal.SIGTERM

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Proc:
        if self.alive:
            return self
        self.starts += 1
        out = self.log.open("ab")
        out.write(f"\n===== start #{self.starts} at {time.strftime('%H:%M:%S')}: {' '.join(self.command())}\n".encode())
        out.flush()
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, **self.popen_kwargs())
        out.close()
        return self

    def wait_ready(self, timeout: float = 60.0) -> Proc:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProcError(f"{self.name} exited with {self.proc.returncode} while starting\n{self.log_tail()}")
            try:
                if self.ready():
                    return self
            except Exception:  # not up yet: connection refused, half-open socket, ...
                pass
            time.sleep(0.1)
        raise ProcError(f"{self.name} not ready within {timeout:.0f} s\n{self.log_tail()}")

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group (a crash takes the children too). For SIGKILL,
        wait for the process to be reaped."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal_group(sig)
        if sig == signal.SIGKILL:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            self._after_exit()

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._after_exit()
            return
        self._signal_group(self.stop_signal)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._after_exit()

    def _after_exit(self) -> None:
        """Kill what the process group left behind (a killed postmaster's backends, say)."""
        if self.proc is not None:
            self._signal_group(signal.SIGKILL)

    def restart(self, timeout: float = 60.0) -> Proc:
        self.stop()
        self.start()
        return self.wait_ready(timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.log})"
        return f"--- last {lines} lines of {self.log}:\n" + "\n".join(text[-lines:])


class Postgres(Proc):
    """A private PostgreSQL cluster: ``initdb`` in ``data_dir`` (unless it holds one), then the
    postmaster in the foreground on ``port``. Fast shutdown on ``stop()`` (SIGINT)."""

    name = "postgres"
    stop_signal = signal.SIGINT

    def __init__(self, workdir: Path, port: int | None = None, data_dir: Path | None = None) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.data_dir = data_dir or workdir / "data"
        self.socket_dir = workdir / "run"
        self.bin = _pg_bin()

    def url(self, db: str = "postgres") -> str:
        return f"postgres://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/{db}"

    def popen_kwargs(self) -> dict[str, Any]:
        account = _pg_account()
        return {"user": account[0], "group": account[1], "extra_groups": []} if account else {}

    def _chown(self, path: Path) -> None:
        account = _pg_account()
        if account:
            os.chown(path, *account)

    def initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        for path in (self.workdir, self.data_dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700 if path == self.data_dir else 0o755)
            self._chown(path)
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(PG_PASSWORD + "\n")
        pwfile.chmod(0o644)
        result = subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", PG_USER, f"--pwfile={pwfile}",
             "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, **self.popen_kwargs(),
        )
        pwfile.unlink()
        if result.returncode:
            raise ProcError(f"initdb failed: {result.stderr.decode(errors='replace')[-2000:]}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# tests/faults/procs.py\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "max_connections = 100\nshared_buffers = 32MB\nlisten_addresses = '127.0.0.1'\n")

    def command(self) -> list[str]:
        return [str(self.bin / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-k", str(self.socket_dir), "-c", "listen_addresses=127.0.0.1"]

    def start(self) -> Proc:
        self.initdb()
        for path in (self.workdir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)
        stale = self.data_dir / "postmaster.pid"
        if not self.alive and stale.exists():
            stale.unlink()  # left by a SIGKILL: PostgreSQL would check it, we know no postmaster runs
        return super().start()

    def ready(self) -> bool:
        import psycopg

        with psycopg.connect(self.url(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True

    def _after_exit(self) -> None:
        super()._after_exit()
        # Backends of a killed postmaster are in its group (killed above); wait for them to go so
        # the next postmaster can attach shared memory and bind the port.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _port_open(self.port):
            time.sleep(0.05)


class Redis(Proc):
    """A private ``redis-server`` on ``port``. No persistence unless ``appendonly``: a restart loses
    everything in it, as a Redis without a volume does (that is the fault the suite tests)."""

    name = "redis"

    def __init__(self, workdir: Path, port: int | None = None, *, appendonly: bool = False) -> None:
        super().__init__(workdir)
        self.port = port or free_port()
        self.appendonly = appendonly

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def command(self) -> list[str]:
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir),
                "--save", "", "--appendonly", "yes" if self.appendonly else "no", "--daemonize", "no"]

    def ready(self) -> bool:
        import redis

        return bool(redis.Redis.from_url(self.url(), socket_timeout=1).ping())


class PortalProc(Proc):
    """A portal process (``manage.py`` or Celery or uvicorn) with the stack's environment."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str) -> None:
        self.name = name
        super().__init__(workdir, env)


class CeleryWorker(PortalProc):
    """``celery -A portal worker`` on the given queues, thread pool as in the Procfile."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str, *, queues: Sequence[str] = QUEUES,
                 concurrency: int = 4, broker_url: str) -> None:
        super().__init__(workdir, env, f"worker-{name}")
        self.node = f"{name}@faults"
        self.queues = tuple(queues)
        self.concurrency = concurrency
        self.broker_url = broker_url
        self._app: Any = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO", "--pool=threads",
                f"--concurrency={self.concurrency}", "--without-gossip", "--without-mingle",
                "-Q", ",".join(self.queues), "-n", self.node]

    def ping(self, timeout: float = 1.0) -> bool:
        from celery import Celery

        if self._app is None:
            # not the current app: shared tasks sent later in this process (other tests) keep the
            # portal's broker, not this stack's Redis, which is gone once the stack stops
            self._app = Celery("faults-probe", broker=self.broker_url, set_as_current=False)
        return bool(self._app.control.ping(destination=[self.node], timeout=timeout))

    def ready(self) -> bool:
        return self.alive and self.ping()


class Beat(PortalProc):
    """``celery -A portal beat`` (the periodic reconcilers), its schedule file in ``workdir``."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir, env, "beat")

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
                "--schedule", str(self.workdir / "celerybeat-schedule")]

    def ready(self) -> bool:
        return self.alive and "beat: Starting" in self.log.read_text(errors="replace").split("===== start #")[-1]


class WebServer(PortalProc):
    """The ASGI server the Procfile runs (uvicorn ``portal.asgi:application``) on ``port``."""

    def __init__(self, workdir: Path, env: dict[str, str], *, port: int | None = None) -> None:
        super().__init__(workdir, env, "web")
        self.port = port or free_port()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log"]

    def get(self, path: str, *, headers: dict[str, str] | None = None, timeout: float = 10.0,
            method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={"Host": "localhost", **(headers or {})})
            response = conn.getresponse()
            return response.status, response.read()
        except OSError as exc:
            raise ProcError(f"web server on {self.port} did not answer {path}: {exc}") from exc
        finally:
            conn.close()

    def ready(self) -> bool:
        return self.alive and self.get("/healthz", timeout=2)[0] == 200


class Watcher(PortalProc):
    """``manage.py runwatchers --holder <holder>``. Ready once it holds ``expect_leases`` leases
    (set the attribute before ``wait_ready``; 0: once it has run for a second)."""

    def __init__(self, workdir: Path, env: dict[str, str], holder: str, dsn: str,
                 extra_args: Sequence[str] = ()) -> None:
        super().__init__(workdir, env, f"watcher-{holder}")
        self.holder = holder
        self.dsn = dsn
        self.expect_leases = 0
        self.extra_args = tuple(extra_args)
        self._started_at = 0.0

    def command(self) -> list[str]:
        return [sys.executable, "manage.py", "runwatchers", "--holder", self.holder, "--heartbeat", "5",
                *self.extra_args]

    def start(self) -> Proc:
        self._started_at = time.monotonic()
        return super().start()

    def leases(self) -> int:
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=2, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM clusters_watcherlease WHERE holder = %s AND expires > now()",
                               (self.holder,)).fetchone()
        return int(row[0]) if row else 0

    def ready(self) -> bool:
        if not self.alive:
            return False
        if self.expect_leases:
            return self.leases() >= self.expect_leases
        return time.monotonic() - self._started_at > 1.0


def _migrations_key() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class Stack:
    """A private PostgreSQL + Redis and the portal processes started on them (see the module doc)."""

    def __init__(self, root: Path | None = None, *, db_name: str = "portal") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="portal-faults-", dir="/tmp")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.db_name = db_name
        self.postgres = Postgres(self.root / "postgres")
        self.redis = Redis(self.root / "redis")
        self.procs: list[Proc] = []

    @property
    def dsn(self) -> str:
        return self.postgres.url(self.db_name)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
        env.update({
            "PORTAL_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": self.dsn,
            "REDIS_URL": self.redis.url(0),
            "PORTAL_PG_PORT": str(self.postgres.port),
            "PORTAL_REDIS_PORT": str(self.redis.port),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(overrides)
        return env

    def start_servers(self, timeout: float = 60.0) -> Stack:
        for server in (self.postgres, self.redis):
            server.start()
            if server not in self.procs:
                self.procs.append(server)
        self.postgres.wait_ready(timeout)
        self.redis.wait_ready(timeout)
        return self

    def sql(self, query: str, *params: Any, db: str | None = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.postgres.url(db or self.db_name), connect_timeout=5, autocommit=True) as conn:
            cursor = conn.execute(query, params or None)
            return list(cursor.fetchall()) if cursor.description else []

    def migrate(self, timeout: float = 600.0) -> None:
        """Create and migrate the private database, from the cached template when there is one.
        Call before ``start_servers`` to use the cache (it copies a data directory)."""
        key = _migrations_key()
        cached = CACHE_DIR / key
        if not self.postgres.alive and (cached / "PG_VERSION").exists() and not self.postgres.data_dir.exists():
            shutil.copytree(cached, self.postgres.data_dir, symlinks=True)
            account = _pg_account()
            if account:
                for path in [self.postgres.data_dir, *self.postgres.data_dir.rglob("*")]:
                    os.chown(path, *account, follow_symlinks=False)
            self.start_servers()
            if self.sql("SELECT 1 FROM pg_database WHERE datname = %s", self.db_name, db="postgres"):
                return
        self.start_servers()
        if not self.sql("SELECT 1 FROM pg_database WHERE datname = %s", self.db_name, db="postgres"):
            self.sql(f'CREATE DATABASE "{self.db_name}"', db="postgres")
        result = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                                env=self.env(), capture_output=True, timeout=timeout)
        if result.returncode:
            raise ProcError(f"migrate failed:\n{result.stdout.decode()[-3000:]}\n{result.stderr.decode()[-3000:]}")
        if self.db_name == "portal" and not (cached / "PG_VERSION").exists():
            self.postgres.stop()
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=CACHE_DIR))
            shutil.rmtree(staging)
            shutil.copytree(self.postgres.data_dir, staging, symlinks=True,
                            ignore=shutil.ignore_patterns("postmaster.pid", "postmaster.opts"))
            with contextlib.suppress(OSError):
                staging.rename(cached)
            shutil.rmtree(staging, ignore_errors=True)
            self.postgres.start()
            self.postgres.wait_ready()

    def run_django(self, code: str, *, timeout: float = 180.0, **env: str) -> Any:
        """Run ``code`` in a fresh Python process with Django set up on the private services and
        return the JSON-able value it assigns to ``result`` (``ProcError`` with the output if it fails)."""
        marker = "@@faults-result@@"
        script = ("import json\nimport django\ndjango.setup()\nresult = None\n" + code +
                  f"\nprint({marker!r} + json.dumps(result, default=str))\n")
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=self.env(**env), capture_output=True,
                              timeout=timeout)
        out = done.stdout.decode(errors="replace")
        if done.returncode or marker not in out:
            raise ProcError(f"Django snippet failed ({done.returncode}):\n{code}\n{out[-3000:]}\n"
                            f"{done.stderr.decode(errors='replace')[-4000:]}")
        return json.loads(out.rsplit(marker, 1)[1].strip().splitlines()[0])

    def api_token(self, username: str = "faults-admin", role: str = "admin") -> str:
        """A user of ``role`` (created if missing) and a new API token of theirs (``Authorization: Bearer``)."""
        return str(self.run_django(f"""
from portal.models import ApiToken, User
user = User.objects.filter(username={username!r}).first() or User.objects.create_user(
    username={username!r}, password="correct-horse-battery", role={role!r}, email={username + '@example.com'!r})
raw, prefix, digest = ApiToken.generate()
ApiToken.objects.create(user=user, name="faults-" + prefix, prefix=prefix, digest=digest)
result = raw
"""))

    def _add(self, proc: Proc) -> Any:
        self.procs.append(proc)
        return proc

    def worker(self, name: str = "w1", *, queues: Sequence[str] = QUEUES, concurrency: int = 4,
               **env: str) -> CeleryWorker:
        return self._add(CeleryWorker(self.root / "logs", self.env(**env), name, queues=queues,
                                      concurrency=concurrency, broker_url=self.redis.url(0)))

    def web(self, **env: str) -> WebServer:
        return self._add(WebServer(self.root / "logs", self.env(**env)))

    def watcher(self, holder: str = "faults-a", *args: str, **env: str) -> Watcher:
        return self._add(Watcher(self.root / "logs", self.env(**env), holder, self.dsn, args))

    def beat(self, **env: str) -> Beat:
        return self._add(Beat(self.root / "logs", self.env(**env)))

    def logs(self, lines: int = 30) -> str:
        """The tail of every process's log, for an assertion message."""
        return "\n".join(proc.log_tail(lines) for proc in self.procs)

    def close(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                if isinstance(proc, PortalProc):
                    proc.kill()  # nothing to finish cleanly at the end of a test
                else:
                    proc.stop(timeout=10)
        if not os.environ.get("PORTAL_FAULTS_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def small_tmpfs(size_mb: int) -> Iterator[Path]:
    """A tmpfs of ``size_mb`` MiB mounted on a new directory under /tmp (root only), unmounted after."""
    mount = Path(tempfile.mkdtemp(prefix="portal-faults-disk-", dir="/tmp"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        mount.rmdir()


def fill_filesystem(path: Path, name: str = "filler") -> Path:
    """Write zeros to ``path/name`` until the filesystem holding ``path`` has no byte left."""
    target = path / name
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 4096, 512, 1):
            chunk = b"\0" * size
            with contextlib.suppress(OSError):
                while os.write(fd, chunk):
                    pass
    finally:
        os.close(fd)
    return target


def cpu_seconds(proc: Proc) -> float:
    """User + system CPU seconds of every live process in ``proc``'s process group (a postmaster
    and its backends, a worker and its render pool); 0 when it is not running."""
    if not proc.alive or proc.pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == proc.pid:  # pgrp (the fields after the command name start at state)
            total += int(fields[11]) + int(fields[12])
    return total / tick


@contextlib.contextmanager
def running_stack(*, migrate: bool = True, db_name: str = "portal") -> Iterator[Stack]:
    """A :class:`Stack` with PostgreSQL and Redis up (and migrated unless ``migrate=False``), closed after."""
    with Stack(db_name=db_name) as stack:
        if migrate:
            stack.migrate()
        else:
            stack.start_servers()
        yield stack
