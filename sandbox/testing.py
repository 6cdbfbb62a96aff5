"""Run a sandbox fleet inside another test suite (the portal's, the sandbox's own).

The fleet runs in a background thread with its own event loop, so synchronous
tests, Django tests, subprocesses (kubectl) and async tests on another loop
can all talk to it over HTTPS exactly as they would to real clusters::

    with running_sandbox(clusters=3, nodes=2, state_dir=tmp_path) as fleet:
        c = fleet.clusters["cluster-1"]
        c.kubeconfig, c.cert_kubeconfig, c.token, c.server, c.port
        fleet.inject_fault("cluster-1", error_rate=0.5)
        fleet.add_cluster("late-1"); fleet.remove_cluster("late-1")
        fleet.in_cluster("cluster-1", lambda cl: cl.store.count(PODS))

Everything the fleet does runs on its loop; ``in_cluster``/``call`` marshal
work onto it and return the result (exceptions propagate).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sandbox.cluster import SimCluster
from sandbox.fleet import PROVIDERS, Fleet, default_cluster_names

T = TypeVar("T")


@dataclass(frozen=True)
class ClusterHandle:
    """Connection facts of one cluster (a snapshot; re-read after token rotation)."""

    name: str
    server: str
    port: int
    token: str
    kubeconfig: Path
    ca_path: Path
    provider: str
    region: str
    version: str
    cert_kubeconfig: Path  # client certificate for user sandbox-admin, group system:masters

    def mint_client_cert(self, common_name: str, groups: tuple[str, ...] | list[str] = ()) -> tuple[bytes, bytes]:
        """A client certificate + key (PEM) signed by the sandbox CA; admin only with
        ``system:masters`` among ``groups``, otherwise authenticated but forbidden."""
        from sandbox.certs import mint_client_cert

        return mint_client_cert(self.ca_path.parent, common_name, groups)


class SandboxFleet:
    """Thread-safe handle on a fleet running in a background event loop."""

    def __init__(self, fleet: Fleet, loop: asyncio.AbstractEventLoop) -> None:
        self.fleet = fleet
        self.loop = loop

    # ------------------------------------------------------------ marshalling

    def run(self, fn: Callable[[Fleet], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run ``await fn(fleet)`` on the fleet's loop and return its result."""

        async def wrapper() -> T:
            return await fn(self.fleet)

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def call(self, fn: Callable[[Fleet], T], timeout: float = 30.0) -> T:
        """Run synchronous ``fn(fleet)`` on the fleet's loop and return its result."""

        async def wrapper() -> T:
            return fn(self.fleet)

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def in_cluster(self, name: str, fn: Callable[[SimCluster], T], timeout: float = 30.0) -> T:
        """Act inside a cluster directly, e.g. ``lambda c: c.store.create(PODS, {...})``."""
        return self.call(lambda f: fn(f.get(name)), timeout)

    # ------------------------------------------------------------ facts

    def _handle(self, c: SimCluster) -> ClusterHandle:
        s = c.spec
        return ClusterHandle(s.name, c.url, s.port, s.token, self.fleet.kubeconfig_path(s.name), self.fleet.ca_path,
                             s.provider, s.region, s.version, self.fleet.cert_kubeconfig_path(s.name))

    @property
    def clusters(self) -> dict[str, ClusterHandle]:
        return self.call(lambda f: {n: self._handle(c) for n, c in f.clusters.items()})

    def cluster(self, name: str) -> ClusterHandle:
        return self.call(lambda f: self._handle(f.get(name)))

    @property
    def state_dir(self) -> Path:
        return self.fleet.state_dir

    @property
    def admin_url(self) -> str:
        return f"http://{self.fleet.host}:{self.fleet.admin_port}"

    @property
    def admin_token(self) -> str:
        return self.fleet.admin_token

    # ------------------------------------------------------------ changes

    def add_cluster(self, name: str, **kwargs: Any) -> ClusterHandle:
        c = self.run(lambda f: f.add_cluster(name, **kwargs))
        return self.call(lambda f: self._handle(c))

    def remove_cluster(self, name: str) -> None:
        self.run(lambda f: f.remove_cluster(name))

    def provisioned(self) -> dict[str, dict[str, str]]:
        """The clusters Cluster API provisioned: fleet name -> ``{management, namespace, name}``."""
        return self.call(lambda f: {n: dict(c.provisioned_by) for n, c in f.clusters.items() if c.provisioned_by})

    def inject_fault(self, name: str, **settings: Any) -> dict[str, Any]:
        """See :meth:`sandbox.fleet.Fleet.fault` (latency_ms, error_rate, blackhole, down, ...)."""
        return self.run(lambda f: f.fault(name, **settings))

    def clear_faults(self, name: str) -> dict[str, Any]:
        return self.inject_fault(name, clear=True)

    def rotate_token(self, name: str) -> str:
        return str(self.inject_fault(name, rotate_token=True)["token"])


@contextmanager
def running_sandbox(clusters: int = 1, nodes: int = 2, state_dir: str | Path | None = None, *,
                    names: list[str] | None = None, seed_demo: bool = False, start_timeout: float = 60.0,
                    cluster_api: list[str] | tuple[str, ...] = (),
                    **fleet_kwargs: Any) -> Iterator[SandboxFleet]:
    """Start a fleet in a background thread; stop it (and the thread) on exit.

    ``fleet_kwargs`` go to :class:`sandbox.fleet.Fleet` (``bookmark_interval``,
    ``history_size``, ``pod_shutdown_seconds``, ``enable_controllers``,
    ``admin_port``, ``base_port`` ...).  Without ``state_dir`` a temporary
    directory is used and removed afterwards.  The clusters named in ``cluster_api`` are
    management clusters (the Cluster API CRDs and the simulated providers of :mod:`sandbox.capi`).
    """
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if state_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sandbox-")
        state_dir = tmp.name
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[Fleet] = concurrent.futures.Future()
    fleet = Fleet(state_dir, **fleet_kwargs)
    cluster_names = names or default_cluster_names(clusters)

    async def boot() -> None:
        await fleet.start()
        for i, name in enumerate(cluster_names):
            if name in fleet.clusters:  # restored from a snapshot
                continue
            c = await fleet.add_cluster(name, nodes=nodes, provider=PROVIDERS[i % len(PROVIDERS)],
                                        cluster_api=name in cluster_api)
            if seed_demo:
                from sandbox.fleet import seed_demo as seed

                await seed(c)

    def thread_main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(boot())
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(fleet)
        loop.run_forever()

    thread = threading.Thread(target=thread_main, name="sandbox-fleet", daemon=True)
    thread.start()
    try:
        ready.result(start_timeout)
        handle = SandboxFleet(fleet, loop)
        yield handle
    finally:
        if ready.done() and ready.exception() is None:
            asyncio.run_coroutine_threadsafe(fleet.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        if not loop.is_running():
            loop.close()
        if tmp is not None:
            tmp.cleanup()


# ------------------------------------------------------------------ git and registry servers for builds
#
# Build tests need a real git server and a real OCI registry on loopback: the sandbox's clone and
# builder pods talk to them exactly as in-cluster git and buildkit would.

GITSERVER_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gitserver.py"
REGISTRY_BINARY = "/usr/bin/docker-registry"
_GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Sandbox", "GIT_AUTHOR_EMAIL": "sandbox@example.invalid",
                 "GIT_COMMITTER_NAME": "Sandbox", "GIT_COMMITTER_EMAIL": "sandbox@example.invalid",
                 "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class GitServer:
    """A running ``scripts/gitserver.py`` (git http-backend over smart HTTP) serving ``root``."""

    url: str  # http://127.0.0.1:<port>
    root: Path
    username: str
    password: str

    def url_for(self, name: str) -> str:
        return f"{self.url}/{name}.git"


def _git(*args: str, cwd: Path | None = None) -> str:
    import os
    import subprocess

    env = {**os.environ, **_GIT_IDENTITY}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def git_server(root: Path, *, username: str = "", password: str = "") -> Iterator[GitServer]:
    """Serve the bare repositories under ``root`` (``<name>.git``, see :func:`make_repo`) over git's
    smart HTTP on a free loopback port; with ``username``/``password`` every request needs them
    (HTTP basic auth, as a hosted git server asks for)."""
    import os
    import subprocess
    import sys

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GITSERVER_USERNAME": username, "GITSERVER_PASSWORD": password}
    process = subprocess.Popen([sys.executable, str(GITSERVER_SCRIPT), str(root), "--port", "0"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError(f"gitserver did not start: {line!r}")
        yield GitServer(line.removeprefix("listening on "), root, username, password)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_repo(root: Path, name: str, files: dict[str, str | bytes], *, branch: str = "main",
              tags: tuple[str, ...] | list[str] = ()) -> str:
    """Commit ``files`` (path → content) on ``branch`` of the bare repository ``root/<name>.git``
    (created when missing; a later call commits on top of the branch, replacing the tree), tag the
    commit with ``tags`` and return its SHA."""
    root = Path(root)
    bare = root / f"{name}.git"
    if not bare.exists():
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git("init", "--quiet", "--bare", "--initial-branch", branch, str(bare))
    with tempfile.TemporaryDirectory(prefix="sandbox-repo-") as tmp:
        work = Path(tmp)
        _git("init", "--quiet", "--initial-branch", branch, str(work))
        if _git("ls-remote", "--heads", str(bare), branch, cwd=work).strip():
            _git("fetch", "--quiet", str(bare), branch, cwd=work)
            _git("reset", "--quiet", "--soft", "FETCH_HEAD", cwd=work)
            _git("rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".", cwd=work)
        for path, content in files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        _git("add", "--all", cwd=work)
        _git("commit", "--quiet", "--allow-empty", "-m", f"sandbox commit of {len(files)} file(s)", cwd=work)
        sha = _git("rev-parse", "HEAD", cwd=work).strip()
        _git("push", "--quiet", str(bare), f"HEAD:refs/heads/{branch}", cwd=work)
        for tag in tags:
            _git("tag", "--force", tag, cwd=work)
            _git("push", "--quiet", "--force", str(bare), f"refs/tags/{tag}", cwd=work)
    return sha


@dataclass(frozen=True)
class RegistryServer:
    """A running Debian ``docker-registry`` (CNCF distribution) on a free loopback port."""

    url: str  # http(s)://127.0.0.1:<port>
    host: str  # 127.0.0.1:<port>
    auth: tuple[str, str] | None
    ca_pem: str  # "" over plain http
    ca_path: Path | None
    root: Path  # filesystem storage

    @property
    def verify(self) -> str | bool:
        """What ``requests`` needs as ``verify=`` to talk to it."""
        return str(self.ca_path) if self.ca_path else True


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def htpasswd_line(username: str, password: str) -> str:
    """``user:<bcrypt>`` for the registry's htpasswd file (bcrypt is the only scheme it accepts),
    with what this machine has: libxcrypt through ``crypt``, else ``htpasswd``."""
    import shutil
    import subprocess
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt

            hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
            if hashed and hashed.startswith("$2"):
                return f"{username}:{hashed}"
    except (ImportError, AttributeError, OSError):
        pass
    if shutil.which("htpasswd"):
        out = subprocess.run(["htpasswd", "-nbB", username, password], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    raise RuntimeError("no bcrypt available for the registry's htpasswd (crypt or htpasswd)")


@contextmanager
def registry_server(tmp: Path, *, htpasswd_user: str = "", password: str = "", tls: bool = False,
                    token_auth: bool = False, extra_config: dict[str, Any] | None = None) -> Iterator[RegistryServer]:
    """Start Debian's ``docker-registry`` with filesystem storage under ``tmp`` (deletes enabled),
    htpasswd basic auth when a user is given, over HTTPS with a fresh CA when ``tls``. With
    ``token_auth`` (and a user) the registry wants Bearer tokens instead, as Docker Hub, GHCR and
    Harbor do: its 401 says ``WWW-Authenticate: Bearer realm="http://127.0.0.1:<port>/token",
    service=…,scope=…``, and a loopback token server started here hands signed tokens to that user
    (basic auth; anonymous callers get a token without access)."""
    import subprocess
    import time

    import requests
    import yaml

    from sandbox.certs import ensure_tls

    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    if not Path(REGISTRY_BINARY).exists():
        raise RuntimeError("the docker-registry binary is missing (scripts/system-deps.sh installs it)")
    port = _free_port()
    config: dict[str, Any] = {
        "version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "sandbox-test-only-secret"}}
    if htpasswd_user:
        (tmp / "htpasswd").write_text(htpasswd_line(htpasswd_user, password) + "\n")
        config["auth"] = {"htpasswd": {"realm": "sandbox-registry", "path": str(tmp / "htpasswd")}}
    ca_pem, ca_path = "", None
    if tls:
        material = ensure_tls(tmp / "tls")
        config["http"]["tls"] = {"certificate": str(material.cert_path), "key": str(material.key_path)}
        ca_pem, ca_path = material.ca_pem.decode(), material.ca_path
    token_server = None
    if token_auth and htpasswd_user:
        token_server = _TokenServer(tmp / "token", htpasswd_user, password)
        config["auth"] = {"token": {"realm": token_server.realm, "service": token_server.service,
                                    "issuer": token_server.issuer, "rootcertbundle": str(token_server.cert_path)}}
    for key, value in (extra_config or {}).items():
        config[key] = value
    (tmp / "config.yml").write_text(yaml.safe_dump(config))
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    with (tmp / "registry.log").open("wb") as log:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(tmp / "config.yml")], stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/v2/", timeout=1, verify=str(ca_path) if ca_path else True).status_code in (
                        200, 401):
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start: {(tmp / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield RegistryServer(url, f"127.0.0.1:{port}", (htpasswd_user, password) if htpasswd_user else None,
                             ca_pem, ca_path, tmp / "data")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if token_server is not None:
            token_server.close()


class _TokenServer:
    """A Docker-style token server (``GET /token?service=…&scope=repository:x:pull,push``): basic
    auth with the one user, ES256 JWTs carrying the signing certificate (``x5c``) that the
    registry trusts through ``rootcertbundle``. ``issued`` counts the tokens handed out."""

    service = "sandbox-registry"
    issuer = "sandbox-token-issuer"

    def __init__(self, directory: Path, username: str, password: str) -> None:
        import base64
        import datetime
        import threading
        from http.server import ThreadingHTTPServer

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        directory.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_path = directory / "token.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.username, self.password = username, password
        self.issued = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(self))
        self.httpd.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="sandbox-token-server", daemon=True)
        self.thread.start()

    def sign(self, user: str, service: str, access: list[dict[str, Any]]) -> str:
        import base64
        import json
        import secrets
        import time

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        t = int(time.time())
        head = {"typ": "JWT", "alg": "ES256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": user, "aud": service, "exp": t + 300, "nbf": t - 10, "iat": t,
                  "jti": secrets.token_hex(8), "access": access}
        signing = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _token_handler(server: _TokenServer) -> Any:
    import base64
    import hmac
    import json
    from http.server import BaseHTTPRequestHandler
    from urllib.parse import parse_qs, urlsplit

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            header = self.headers.get("Authorization", "")
            user = ""
            if header.lower().startswith("basic "):
                given, _, secret = base64.b64decode(header[6:]).decode(errors="replace").partition(":")
                if not (hmac.compare_digest(given, server.username) and hmac.compare_digest(secret, server.password)):
                    self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication failed"}]})
                    return
                user = given
            access = []
            for scope in query.get("scope", []):
                kind, _, rest = scope.partition(":")
                repo, _, actions = rest.rpartition(":")
                if user and kind == "repository":
                    access.append({"type": kind, "name": repo, "actions": actions.split(",")})
            server.issued += 1
            self._answer(200, {"token": server.sign(user, query.get("service", [""])[0], access), "expires_in": 300})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
