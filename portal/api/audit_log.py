"""The audit log's API shapes: the record with its workspace and cluster, and the CSV export.

The export is a spreadsheet people open in Excel: UTF-8 with a byte-order mark (without it Excel
reads Korean as mojibake), one header row, and every cell that a spreadsheet would take for a
formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) prefixed with a
quote, so a crafted username or object name cannot run anything on the reader's machine (CSV
injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.serializers import AuditRecordSerializer
from portal.models import AuditRecord

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = (
    "id", "timestamp", "actor", "source_ip", "action", "outcome", "status_code", "target_type", "target_id",
    "target", "workspace", "cluster", "request_id", "detail",
)
CHUNK_ROWS = 2000


class ScopeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(allow_null=True, help_text="Null when only the name was recorded.")
    name = serializers.CharField(help_text="The name when the record was written (a snapshot).")


def _scope(pk: int | None, name: str) -> dict[str, Any] | None:
    return {"id": pk, "name": name} if pk is not None or name else None


class AuditRecordScopedSerializer(AuditRecordSerializer):
    """An audit record with where it happened (null for records older than migration 0006 and for
    records about nothing in a workspace or cluster)."""

    workspace = serializers.SerializerMethodField()
    cluster = serializers.SerializerMethodField()

    class Meta(AuditRecordSerializer.Meta):
        fields = (*AuditRecordSerializer.Meta.fields, "workspace", "cluster")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]

    @extend_schema_field(ScopeSerializer(allow_null=True))
    def get_workspace(self, obj: AuditRecord) -> dict[str, Any] | None:
        return _scope(obj.workspace_id, obj.workspace_name)

    @extend_schema_field(ScopeSerializer(allow_null=True))
    def get_cluster(self, obj: AuditRecord) -> dict[str, Any] | None:
        return _scope(obj.cluster_id, obj.cluster_name)


def safe_cell(value: Any) -> str:
    """A cell's text, defused for spreadsheets."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def row_of(record: AuditRecord) -> list[str]:
    cells: list[Any] = [
        record.pk, record.timestamp.isoformat(), record.actor_username, record.source_ip, record.action,
        record.outcome, record.status_code, record.target_type, record.target_id, record.target_repr,
        record.workspace_name or (record.workspace_id if record.workspace_id is not None else ""),
        record.cluster_name or (record.cluster_id if record.cluster_id is not None else ""),
        record.request_id, json.dumps(record.detail, ensure_ascii=False, sort_keys=True) if record.detail else "",
    ]
    return [safe_cell(cell) for cell in cells]


def _lines(rows: Iterable[list[str]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def records_in_chunks(queryset: QuerySet[AuditRecord], *, below: int) -> Iterator[AuditRecord]:
    """Every record of ``queryset`` with an id below ``below``, newest first, read CHUNK_ROWS at a
    time by seeking on the id (no server-side cursor and no transaction held open while the
    client downloads)."""
    last = below
    while True:
        chunk = list(queryset.filter(pk__lt=last).order_by("-pk")[:CHUNK_ROWS])
        yield from chunk
        if len(chunk) < CHUNK_ROWS:
            return
        last = chunk[-1].pk


def csv_stream(records: Iterable[AuditRecord]) -> Iterator[bytes]:
    """The CSV file, piece by piece: the BOM with the header, then about a chunk of rows at a time."""
    yield (BOM + "".join(_lines([list(COLUMNS)]))).encode()
    pending: list[str] = []
    for line in _lines(row_of(record) for record in records):
        pending.append(line)
        if len(pending) >= 200:
            yield "".join(pending).encode()
            pending = []
    if pending:
        yield "".join(pending).encode()
