"""The exec channel protocol's framing (clusters/kube/exec.py), byte for byte as
k8s.io/apimachinery's remotecommand and kubectl write it. Pure functions: no cluster needed."""

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
