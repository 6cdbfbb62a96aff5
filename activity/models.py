"""What the activity app stores itself: :class:`ObjectChange`, a change to an object seen by the
watcher with the field manager that made it (from ``managedFields``).

The timeline's other sources live in their own apps (clusters.ObjectAction, portal.AuditRecord,
the read model's Events, catalog Revision and Rollout) and are read where they are.

A row is written for every new ``changed_by`` (manager, time) of an object whose spec people edit,
by whoever wrote it (portal, controller or kubectl), with the object's spec-side projection as
``snapshot``: the diff of a change is its snapshot against the previous row of the same object.
Only rows with ``outside`` set (a manager that is neither the portal nor a controller) show on the
timeline as "changed outside the portal".
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone

from clusters.models import Cluster


class ObjectChange(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    namespace = models.CharField(max_length=253, blank=True)  # "" for cluster-scoped kinds
    name = models.CharField(max_length=253)
    manager = models.CharField(max_length=128)
    operation = models.CharField(max_length=16, blank=True)  # Apply | Update
    time = models.DateTimeField()  # the managedFields entry's time (seconds)
    resource_version = models.CharField(max_length=64, blank=True)
    snapshot = models.JSONField(default=dict, blank=True)  # the spec-side projection after the change
    outside = models.BooleanField(default=False)  # neither the portal nor a controller: on the timeline
    recorded = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["cluster", "kind", "namespace", "name", "manager", "time"],
                                    name="objectchange_unique_write"),
        ]
        indexes: ClassVar[list[Any]] = [
            # the timeline: a cluster's (or a namespace's) outside changes, newest first
            models.Index(fields=["cluster", "namespace", "-time", "-id"], name="objectchange_ns_time",
                         condition=models.Q(outside=True)),
            # one object's history (the timeline of an object; the previous snapshot of a diff)
            models.Index(fields=["cluster", "kind", "namespace", "name", "-time", "-id"], name="objectchange_object"),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} by {self.manager} at {self.time:%Y-%m-%d %H:%M:%S}"
