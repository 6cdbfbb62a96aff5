"""The one function that keeps Secret values out of what a release shows (:mod:`catalog.redaction`)."""

from __future__ import annotations

import base64

from catalog import redaction


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_redaction_is_one_pure_function() -> None:
    live: dict = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"a":"c2VjcmV0LWE="}}'}},
        "data": {"a": _b64("secret-a"), "b": _b64("same-b")}}
    new = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
           "stringData": {"a": "secret-a2", "b": "same-b", "c": "added-c"}}
    before, after = redaction.redact_pair(live, new)
    assert before is not None
    assert after is not None
    assert before["data"] == {"a": redaction.REDACTED, "b": redaction.REDACTED}
    assert before["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == redaction.REDACTED
    assert after["stringData"] == {"a": redaction.REDACTED_CHANGED, "b": redaction.REDACTED,
                                   "c": redaction.REDACTED_CHANGED}
    assert live["data"]["a"] == _b64("secret-a")  # the inputs are left alone
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "visible"}}
    assert redaction.redact(config) == config
    message = f"Secret s is invalid: data[a]: {_b64('secret-a')} ({'secret-a2'})"
    assert redaction.scrub(message, [live, new]) == "Secret s is invalid: data[a]: <redacted> (<redacted>)"


def test_values_that_became_secrets_are_redacted_and_restored() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"pw": "hunter22"}}
    values = {"admin": {"password": "hunter22", "user": "root"}, "list": ["hunter22", 3]}
    shown = redaction.redact_values(values, [secret])
    assert shown == {"admin": {"password": redaction.REDACTED, "user": "root"}, "list": [redaction.REDACTED, 3]}
    assert redaction.restore_values(shown, values) == (values, [])
    edited = {"admin": {"password": redaction.REDACTED, "user": "new"}, "extra": redaction.REDACTED}
    assert redaction.restore_values(edited, values) == (
        {"admin": {"password": "hunter22", "user": "new"}, "extra": redaction.REDACTED}, ["values.extra"])
