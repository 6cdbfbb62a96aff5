"""The bodies of notifications (NOTIFY, issue 14): an e-mail (subject, plain text and simple HTML),
a Slack message (``text`` + Block Kit ``blocks``), a Microsoft Teams Workflows message (an Adaptive
Card attachment) and a generic JSON document.

Pure: :func:`describe` reads what a notification says about an alert into an :class:`AlertInfo`
(names of its cluster, workspace and service map; no secret is ever part of it), and every other
function turns that into a body. The channel's URL and HMAC secret never enter a body; the
idempotency key does (``Message-ID`` and the generic body), so receivers can de-duplicate.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitoring.models import Alert

TITLES = {"firing": "FIRING", "acknowledged": "ACKNOWLEDGED", "resolved": "RESOLVED", "test": "TEST"}
# Slack and Teams colours by severity (resolved is always green).
TEAMS_COLOR = {"critical": "attention", "warning": "warning", "info": "accent"}
SLACK_MAX_TEXT = 2900


@dataclass(frozen=True)
class AlertInfo:
    """What a notification tells about one alert."""

    id: int
    state: str
    severity: str
    fingerprint: str
    rule: str
    message: str
    message_code: str
    subject_kind: str
    subject_name: str
    namespace: str
    cluster_id: int | None
    cluster: str
    workspace_id: int | None
    workspace: str
    service_map_id: int | None
    service_map: str
    value: float | None
    started_at: datetime | None
    fired_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str
    acknowledge_note: str
    resolved_at: datetime | None
    message_params: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)


def describe(alert: Alert) -> AlertInfo:
    """The :class:`AlertInfo` of ``alert`` (select its cluster, workspace, service map, rule and
    acknowledging user to read them without more queries)."""
    rule = alert.rule
    cluster = alert.cluster
    workspace = alert.workspace
    service_map = alert.service_map
    acked_by = alert.acknowledged_by
    return AlertInfo(
        id=alert.pk, state=str(alert.state), severity=str(alert.severity), fingerprint=alert.fingerprint,
        rule=rule.name if rule is not None else "", message=alert.message, message_code=alert.message_code,
        subject_kind=alert.subject_kind, subject_name=alert.subject_name, namespace=alert.namespace,
        cluster_id=alert.cluster_id, cluster=cluster.name if cluster is not None else "",
        workspace_id=alert.workspace_id, workspace=workspace.name if workspace is not None else "",
        service_map_id=alert.service_map_id, service_map=(service_map.display_name or service_map.namespace) if service_map is not None else "",
        value=alert.value, started_at=alert.started_at, fired_at=alert.fired_at,
        acknowledged_at=alert.acknowledged_at, acknowledged_by=acked_by.get_username() if acked_by is not None else "",
        acknowledge_note=alert.acknowledge_note, resolved_at=alert.resolved_at,
        message_params=dict(alert.message_params or {}), labels=dict(alert.labels or {}),
    )


# ---------------------------------------------------------------------------- shared pieces


def link(info: AlertInfo, base_url: str) -> str:
    """The console page of the alert: absolute with a base URL, else the path."""
    return f"{base_url.rstrip('/')}/alerts/{info.id}"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if at is not None else "-"


def subject_text(info: AlertInfo) -> str:
    """``Pod shop/web-1`` style: what the alert is about."""
    name = f"{info.namespace}/{info.subject_name}" if info.namespace and info.subject_name else (
        info.subject_name or info.namespace)
    return " ".join(p for p in (info.subject_kind, name) if p) or "-"


def place_text(info: AlertInfo) -> str:
    parts = [f"cluster {info.cluster}" if info.cluster else "", f"workspace {info.workspace}" if info.workspace else "",
             f"service map {info.service_map}" if info.service_map else ""]
    return ", ".join(p for p in parts if p) or "-"


def headline(info: AlertInfo, event: str) -> str:
    """``[FIRING] critical: <message>``; the message falls back to the rule's name."""
    what = info.message or info.rule or f"alert {info.id}"
    return f"[{TITLES.get(event, event.upper())}] {info.severity}: {what}"


def facts(info: AlertInfo, event: str) -> list[tuple[str, str]]:
    """The facts every body lists, in order."""
    rows = [("Severity", info.severity), ("State", info.state), ("Subject", subject_text(info)),
            ("Where", place_text(info)), ("Rule", info.rule or "-"), ("Started", _when(info.started_at))]
    if info.value is not None:
        rows.append(("Value", f"{info.value:g}"))
    if event == "acknowledged":
        rows.append(("Acknowledged by", info.acknowledged_by or "-"))
        if info.acknowledge_note:
            rows.append(("Note", info.acknowledge_note))
    if event == "resolved":
        rows.append(("Resolved", _when(info.resolved_at)))
    return rows


# ---------------------------------------------------------------------------- e-mail


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def message_id(idempotency_key: str, domain: str) -> str:
    """A ``Message-ID`` derived from the idempotency key: every retry of one notification carries the
    same one, so a receiving system that de-duplicates keeps one copy."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<notify.{digest}@{domain or 'portal.invalid'}>"


def email(info: AlertInfo, event: str, *, base_url: str) -> Email:
    url = link(info, base_url)
    rows = facts(info, event)
    subject = headline(info, event).replace("\r", " ").replace("\n", " ")[:250]
    text_lines = [headline(info, event), "", *(f"{k}: {v}" for k, v in rows), "", f"Open in the portal: {url}"]
    if event == "test":
        text_lines.insert(1, "This is a test notification: the channel works.")
    cells = "".join(f"<tr><th align=\"left\" style=\"padding:2px 12px 2px 0\">{html.escape(k)}</th>"
                    f"<td>{html.escape(v)}</td></tr>" for k, v in rows)
    body_html = (f"<html><body><h3>{html.escape(headline(info, event))}</h3>"
                 f"<table>{cells}</table>"
                 f"<p><a href=\"{html.escape(url, quote=True)}\">Open in the portal</a></p></body></html>")
    return Email(subject=subject, text="\n".join(text_lines) + "\n", html=body_html)


# ---------------------------------------------------------------------------- Slack


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(info: AlertInfo, event: str, *, base_url: str) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` (notifications, fallbacks) and Block Kit ``blocks``."""
    url = link(info, base_url)
    title = headline(info, event)
    fields = [{"type": "mrkdwn", "text": f"*{_slack_escape(k)}*\n{_slack_escape(v)[:1900]}"}
              for k, v in facts(info, event)][:10]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": False}},
        {"type": "section", "fields": fields},
    ]
    if url.startswith(("http://", "https://")):
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in the portal"}, "url": url}]})
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(url)}]})
    return {"text": _slack_escape(f"{title} ({subject_text(info)})")[:SLACK_MAX_TEXT], "blocks": blocks}


# ---------------------------------------------------------------------------- Microsoft Teams (Workflows)


def teams(info: AlertInfo, event: str, *, base_url: str) -> dict[str, Any]:
    """A message with one Adaptive Card, as the Teams Workflows "post to a channel when a webhook
    request is received" flow takes it."""
    url = link(info, base_url)
    color = "good" if event == "resolved" else TEAMS_COLOR.get(info.severity, "default")
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline(info, event), "weight": "Bolder", "size": "Medium",
             "color": color, "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts(info, event)]},
        ],
    }
    if url.startswith(("http://", "https://")):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in the portal", "url": url}]
    else:
        card["body"].append({"type": "TextBlock", "text": url, "isSubtle": True, "wrap": True})
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


# ---------------------------------------------------------------------------- generic JSON


def generic(info: AlertInfo, event: str, *, idempotency_key: str, base_url: str) -> dict[str, Any]:
    """``{"idempotency_key", "event", "alert": {...}}``: the same for every retry of one notification."""
    return {
        "idempotency_key": idempotency_key,
        "event": event,
        "alert": {
            "id": info.id, "url": link(info, base_url), "state": info.state, "severity": info.severity,
            "fingerprint": info.fingerprint, "rule": info.rule, "message": info.message,
            "message_code": info.message_code, "message_params": info.message_params,
            "subject": {"kind": info.subject_kind, "name": info.subject_name, "namespace": info.namespace},
            "cluster": {"id": info.cluster_id, "name": info.cluster} if info.cluster_id is not None else None,
            "workspace": {"id": info.workspace_id, "name": info.workspace} if info.workspace_id is not None else None,
            "service_map": ({"id": info.service_map_id, "name": info.service_map}
                            if info.service_map_id is not None else None),
            "labels": info.labels, "value": info.value,
            "started_at": _iso(info.started_at), "fired_at": _iso(info.fired_at),
            "acknowledged_at": _iso(info.acknowledged_at), "acknowledged_by": info.acknowledged_by or None,
            "acknowledge_note": info.acknowledge_note, "resolved_at": _iso(info.resolved_at),
        },
    }


def webhook_body(kind: str, info: AlertInfo, event: str, *, idempotency_key: str, base_url: str) -> dict[str, Any]:
    """The JSON body of a webhook channel of ``kind`` (slack, teams, webhook)."""
    if kind == "slack":
        return slack(info, event, base_url=base_url)
    if kind == "teams":
        return teams(info, event, base_url=base_url)
    return generic(info, event, idempotency_key=idempotency_key, base_url=base_url)
