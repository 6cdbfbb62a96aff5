"""Shapes of the timeline API (documented in docs/activity.md; the console's types come from the schema)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from activity.timeline import SOURCES, Entry


class ActivityEntrySerializer(serializers.Serializer[Entry]):
    id = serializers.CharField(help_text='"<table>:<pk>", e.g. "portal:12", "event:40", "outside:7".')
    time = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=SOURCES)  # type: ignore[assignment]  # a field named source
    actor = serializers.CharField(help_text="Who: a username, a field manager (outside), an event's reporter.")
    cluster = serializers.IntegerField(allow_null=True)
    namespace = serializers.CharField(allow_blank=True)
    kind = serializers.CharField(allow_blank=True)
    name = serializers.CharField(allow_blank=True)
    action = serializers.CharField(
        allow_blank=True, help_text="portal: the ObjectAction's action; event: its reason; release: install, upgrade, "
                                    "rollback or rollout; outside: apply or update; exec: exec.")
    status = serializers.CharField(allow_blank=True)
    summary = serializers.CharField(allow_blank=True, help_text="One English sentence (events: their message).")
    message_code = serializers.CharField(allow_blank=True)
    message_params = serializers.DictField()
    type = serializers.ChoiceField(choices=["Normal", "Warning"])
    has_diff = serializers.BooleanField()
    detail = serializers.DictField(help_text="Per source: params, revision, count, container ...")

    def to_representation(self, instance: Entry) -> dict[str, Any]:
        return {
            "id": instance.id, "time": instance.time.isoformat(), "source": instance.source, "actor": instance.actor,
            "cluster": instance.cluster, "namespace": instance.namespace, "kind": instance.kind, "name": instance.name,
            "action": instance.action, "status": instance.status, "summary": instance.summary,
            "message_code": instance.message_code, "message_params": instance.message_params,
            "type": "Warning" if instance.type == "Warning" else "Normal", "has_diff": instance.has_diff,
            "detail": instance.detail,
        }


class ActivityPageSerializer(serializers.Serializer[Any]):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True, help_text="Always null: the timeline pages forward only.")
    results = ActivityEntrySerializer(many=True)
    groups = serializers.ListField(child=serializers.CharField(),
                                   help_text="Socket groups whose events may add entries: subscribe and refetch.")


class ActivityDiffSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    diff = serializers.CharField(allow_blank=True, help_text="A unified diff; a Secret's values are masked.")
    before = serializers.DictField(allow_null=True, help_text="outside: the snapshot the diff starts from "
                                                              "({time, manager}), null when none was recorded.")
