"""The rows the clusters app shows: a cluster as the list has it, a node operation with its
progress. Pure: built from model instances and figures handed in, no queries, no cluster calls.

One definition serves both the API (its serializers delegate here) and the events that
:mod:`clusters.actions` publishes (``cluster.updated``, ``node_operation.updated``), so a row
pushed to the browser is the row the API returns, without actions importing the API layer above
them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rest_framework.fields import DateTimeField

from clusters.models import Cluster, NodeOperation

_DATETIME = DateTimeField()

# The keys a node operation's progress always has (a pending one has recorded nothing yet, and
# rows written before a key existed lack it).
PROGRESS_KEYS: dict[str, Any] = {"evicted": [], "failed": [], "skipped": [], "remaining": 0}


def iso(value: datetime | None) -> str | None:
    """The API's datetime format (DRF's: ISO 8601, UTC as ``Z``)."""
    return _DATETIME.to_representation(value) if value is not None else None


def cluster_row(cluster: Cluster, fresh: dict[str, Any] | None = None) -> dict[str, Any]:
    """A cluster as the list shows it (and the ``cluster.updated`` payload). ``fresh`` is this
    cluster's entry of :func:`clusters.readmodel.cluster_freshness` (``freshness``, ``last_sync``);
    without it the cluster reads ``syncing`` with its stored last sync."""
    c, fresh = cluster, fresh or {}
    return {
        "id": c.pk, "name": c.name, "display_name": c.display_name, "description": c.description,
        "provider": c.provider, "region": c.region, "stage": c.stage, "labels": c.labels, "server": c.server,
        "auth_method": c.auth_method, "enabled": c.enabled, "status": c.status, "status_message": c.status_message,
        "status_code": c.status_code, "message_code": c.message_code, "message_params": c.message_params or {}, "kubernetes_version": c.kubernetes_version,
        "missing_permissions": c.missing_permissions, "namespaces": c.namespaces,
        "last_checked": iso(c.last_checked), "last_sync": iso(fresh.get("last_sync") or c.last_sync),
        "freshness": str(fresh.get("freshness") or "syncing"), "summary": c.summary, "created": iso(c.created),
    }


def progress_row(value: Any) -> dict[str, Any]:
    """A node operation's progress with the documented keys always present; whatever else the
    task recorded is kept."""
    stored = value if isinstance(value, dict) else {}
    defaults = {k: list(v) if isinstance(v, list) else v for k, v in PROGRESS_KEYS.items()}
    return {**defaults, **stored}


def node_operation_row(op: NodeOperation) -> dict[str, Any]:
    """A node operation as the API returns it (and the ``node_operation.updated`` payload)."""
    return {
        "id": op.pk, "cluster": op.cluster_id, "node": str(op.node), "kind": str(op.kind), "status": str(op.status),
        "progress": progress_row(op.progress), "message": str(op.message), "message_code": str(op.message_code),
        "message_params": op.message_params or {}, "created": iso(op.created), "started": iso(op.started),
        "finished": iso(op.finished), "deadline": iso(op.deadline),
    }
