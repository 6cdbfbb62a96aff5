#!/usr/bin/env python3
"""A tiny git smart-HTTP server for tests, the demo and benchmarks: git's own ``git http-backend``
run as CGI behind Python's threading HTTP server, on a loopback port.

Why: the builds feature clones real repositories; tests need a git server that speaks the real
protocol (including HTTP basic auth and git's own error answers) without a network, Apache or
nginx. git http-backend does the protocol; this script only turns HTTP requests into CGI calls.

Usage: ``scripts/gitserver.py ROOT [--port 0] [--host 127.0.0.1]``; it prints one line
``listening on http://HOST:PORT`` once it serves. Basic auth is required when the environment
holds ``GITSERVER_USERNAME`` and ``GITSERVER_PASSWORD`` (the environment, not argv, so the password
does not show in ``ps``). Every repository under ROOT is exported (``GIT_HTTP_EXPORT_ALL``).
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BACKEND = "/usr/lib/git-core/git-http-backend"


class GitHandler(BaseHTTPRequestHandler):
    server_version = "sandbox-gitserver/1"
    protocol_version = "HTTP/1.0"  # one request per connection: no chunked request bodies to decode
    root = ""
    username = ""
    password = ""

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("GITSERVER_VERBOSE"):
            super().log_message(format, *args)

    def _authorized(self) -> str | None:
        """The user name when the request may pass, None when it must be refused."""
        if not self.username:
            return ""
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        ok = hmac.compare_digest(user.encode(), self.username.encode()) & hmac.compare_digest(
            password.encode(), self.password.encode())
        return user if ok else None

    def _cgi(self) -> None:
        user = self._authorized()
        if user is None:
            body = b"Authentication required\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": user,
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        if user:
            env["AUTH_TYPE"] = "Basic"
        done = subprocess.run([BACKEND], input=body, env=env, capture_output=True, check=False)  # noqa: S603 - fixed binary
        head, sep, payload = done.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = done.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        if done.returncode and not sep:
            status, payload, headers = 500, done.stderr, [("Content-Type", "text/plain")]
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _cgi
    do_POST = _cgi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    GitHandler.root = os.path.abspath(args.root)
    GitHandler.username = os.environ.get("GITSERVER_USERNAME", "")
    GitHandler.password = os.environ.get("GITSERVER_PASSWORD", "")
    server = ThreadingHTTPServer((args.host, args.port), GitHandler)
    server.daemon_threads = True
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
