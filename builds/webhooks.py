"""Git webhooks, as data: who sent a delivery (GitHub, GitLab or the portal's generic form), whether
its signature is right, what it pushed, and whether a build definition builds that ref.

Pure (no I/O): the endpoint (:mod:`builds.api.webhooks`) reads the body and the definition and
calls these. Why each rule:

* The secret never travels in the URL (URLs end up in proxy logs and browser history): GitHub and
  the generic form sign the raw body with HMAC-SHA256 (``X-Hub-Signature-256`` /
  ``X-Portal-Signature``, ``sha256=<hex>``); GitLab sends the secret in ``X-Gitlab-Token``, which is
  only a header, compared in constant time. A query string is never read.
* The signature is checked before the body is parsed, so an unsigned caller learns nothing from
  the payload's errors; an unknown definition is checked against a throwaway secret, so the answer
  and its timing are the same as for a wrong signature (no oracle telling which ids exist).
* A delivery id is required: the endpoint refuses one it has seen (a captured delivery replayed).
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from portal.errors import Invalid, Unauthenticated

MAX_BODY = 1024 * 1024  # bytes of a delivery (GitHub caps payloads at 25 MB; pushes are far smaller)
MAX_DELIVERY_ID = 128  # WebhookDelivery.delivery_id
ZERO_SHA = "0" * 40

GITHUB, GITLAB, GENERIC = "github", "gitlab", "generic"

# Header names as Django's request.headers gives them (case-insensitive mapping).
GITHUB_SIGNATURE, GITHUB_EVENT, GITHUB_DELIVERY = "X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery"
GITLAB_TOKEN, GITLAB_EVENT, GITLAB_DELIVERY = "X-Gitlab-Token", "X-Gitlab-Event", "X-Gitlab-Event-UUID"
GENERIC_SIGNATURE, GENERIC_EVENT, GENERIC_DELIVERY = "X-Portal-Signature", "X-Portal-Event", "X-Portal-Delivery"

MISSING_CODE = "webhook_signature_missing"
INVALID_CODE = "webhook_signature_invalid"
PAYLOAD_CODE = "webhook_payload_invalid"
DELIVERY_CODE = "webhook_delivery_missing"

# A throwaway secret to check deliveries for definitions that do not exist or take no webhooks,
# so they cost what a real check costs and are refused with the same answer.
DECOY_SECRET = "decoy-" + "0" * 58


@dataclass(frozen=True)
class Signed:
    """Who signed a delivery and how: ``provider`` and the header value to check."""

    provider: str
    signature: str


@dataclass(frozen=True)
class Push:
    """What a verified delivery asks for. ``event`` is ``push``, ``tag_push`` or ``ping`` (anything
    else is kept as sent, and ignored); ``ref`` is the full ref (``refs/heads/main``) and
    ``commit`` the pushed SHA (empty for a ping)."""

    provider: str
    delivery_id: str
    event: str
    ref: str = ""
    commit: str = ""
    deleted: bool = False

    @property
    def is_push(self) -> bool:
        return self.event in ("push", "tag_push")

    @property
    def short_ref(self) -> str:
        """The ref as ``git clone --branch`` takes it: the branch or tag name."""
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix):]
        return self.ref


def unauthenticated(code: str) -> Unauthenticated:
    """The one 401 of the endpoint. Its words do not say whether the definition exists."""
    if code == MISSING_CODE:
        return Unauthenticated(
            "The delivery is not signed. Sign it with the definition's webhook secret: X-Hub-Signature-256 "
            "(GitHub), X-Gitlab-Token (GitLab) or X-Portal-Signature (HMAC-SHA256 of the body). A secret in the "
            "URL is not accepted.", code=MISSING_CODE)
    return Unauthenticated("The delivery's signature does not match this webhook's secret.", code=INVALID_CODE)


def signed_by(headers: Mapping[str, str]) -> Signed:
    """The provider whose signature header the delivery carries; 401 ``webhook_signature_missing``
    when it carries none (whatever else it sends, the URL included)."""
    for provider, name in ((GITHUB, GITHUB_SIGNATURE), (GITLAB, GITLAB_TOKEN), (GENERIC, GENERIC_SIGNATURE)):
        value = headers.get(name, "")
        if value:
            return Signed(provider, value)
    raise unauthenticated(MISSING_CODE)


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: what GitHub and the generic form send (senders and tests compute it so)."""
    return "sha256=" + hmac_hex(secret, body)


def verify(signed: Signed, secret: str, body: bytes) -> bool:
    """Whether ``signed`` proves the sender holds ``secret``, in constant time. An empty secret
    proves nothing (a definition whose secret was never set takes no deliveries)."""
    if not secret:
        secret = DECOY_SECRET  # still do the work, then refuse
        matches = False
    else:
        matches = True
    if signed.provider == GITLAB:
        ok = hmac.compare_digest(signed.signature.encode(), secret.encode())
    else:
        ok = hmac.compare_digest(signed.signature.strip().lower().encode(), signature_header(secret, body).encode())
    return ok and matches


def _json(body: bytes, content_type: str) -> dict[str, object]:
    """The payload as JSON; GitHub's ``application/x-www-form-urlencoded`` form (``payload=<json>``)
    too. 400 ``webhook_payload_invalid`` otherwise."""
    try:
        text = body.decode()
        if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
            text = (parse_qs(text).get("payload") or [""])[0]
        data = json.loads(text) if text.strip() else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise payload_invalid("The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise payload_invalid("The body must be a JSON object.")
    return data


def payload_invalid(why: str) -> Invalid:
    return Invalid(f"The webhook's payload cannot be used: {why}", code=PAYLOAD_CODE, params={"reason": why})


def _text(data: Mapping[str, object], key: str, limit: int) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise payload_invalid(f"{key} must be a string of at most {limit} characters.")
    return value


def _delivery_id(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "").strip()
    if not value:
        raise Invalid(f"The delivery has no {name} header: every delivery needs its own id (replays are refused).",
                      code=DELIVERY_CODE, params={"header": name})
    if len(value) > MAX_DELIVERY_ID:
        raise payload_invalid(f"{name} is longer than {MAX_DELIVERY_ID} characters.")
    return value


def _full_ref(ref: str) -> str:
    """A bare branch name (the generic form allows one) as ``refs/heads/<name>``."""
    return ref if ref.startswith("refs/") or not ref else f"refs/heads/{ref}"


def parse(signed: Signed, headers: Mapping[str, str], body: bytes) -> Push:
    """What a delivery whose signature was verified asks for; 400 naming what is wrong."""
    if signed.provider == GITHUB:
        event = headers.get(GITHUB_EVENT, "").strip().lower() or "push"
        delivery = _delivery_id(headers, GITHUB_DELIVERY)
    elif signed.provider == GITLAB:
        raw = headers.get(GITLAB_EVENT, "").strip()
        event = {"push hook": "push", "tag push hook": "tag_push", "system hook": "system"}.get(
            raw.lower(), raw.lower().replace(" ", "_") or "push")
        delivery = _delivery_id(headers, GITLAB_DELIVERY)
    else:
        event = headers.get(GENERIC_EVENT, "").strip().lower() or "push"
        delivery = _delivery_id(headers, GENERIC_DELIVERY)
    if len(event) > 64:
        raise payload_invalid("the event name is too long.")
    data = _json(body, headers.get("Content-Type", ""))
    if event == "ping" or event not in ("push", "tag_push"):
        return Push(signed.provider, delivery, event)
    if signed.provider == GITLAB and data.get("object_kind") == "tag_push":
        event = "tag_push"
    ref = _full_ref(_text(data, "ref", 255))
    commit = _text(data, "after", 64).lower() or (_text(data, "checkout_sha", 64).lower()
                                                  if signed.provider == GITLAB else "")
    if not ref:
        raise payload_invalid("the push names no ref.")
    if commit and not all(c in "0123456789abcdef" for c in commit):
        raise payload_invalid("after must be a commit SHA (hex).")
    deleted = commit == ZERO_SHA or data.get("deleted") is True
    return Push(signed.provider, delivery, event, ref=ref, commit="" if deleted else commit, deleted=deleted)


def trigger_refs(refs: Iterable[str], git_ref: str) -> list[str]:
    """The ref patterns a definition builds: its ``trigger_refs``, or its own branch."""
    patterns = [r for r in refs if isinstance(r, str) and r.strip()]
    if patterns:
        return patterns
    return [git_ref if git_ref.startswith("refs/") else f"refs/heads/{git_ref}"]


def builds_ref(refs: Iterable[str], git_ref: str, ref: str) -> bool:
    """Whether a push of ``ref`` (``refs/heads/main``, ``refs/tags/v1.2``) triggers the definition.
    Patterns are shell globs over the full ref (``refs/tags/v*``; ``*`` also crosses ``/``)."""
    return any(fnmatch.fnmatchcase(ref, pattern) for pattern in trigger_refs(refs, git_ref))
