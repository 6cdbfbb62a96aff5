"""Filters for the audit log list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms as django_forms
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from portal.models import AuditOutcome, AuditRecord, SystemRole, User


class _StrictBooleanField(django_forms.NullBooleanField):
    widget = django_forms.TextInput

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        text = str(value).strip().lower() if value is not None else ""
        if text in ("", "none"):
            return None
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise django_forms.ValidationError("Give true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter that refuses anything else with a 400 (django-filter's own ignores an
    unreadable value, so ``ready=ture`` silently meant "no filter")."""

    field_class = _StrictBooleanField


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared in UTC. PostgreSQL refuses offsets beyond ±15:59 that
    ISO 8601 (and Python) accept, so ``…T00:00-23:10`` was a 500; converted first, it is just a
    time, and one that falls outside the calendar is a 400 naming the parameter."""

    def filter(self, qs: QuerySet[Any], value: datetime | None) -> QuerySet[Any]:
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError as exc:
                raise ValidationError({str(self.label): [
                    "The date-time is out of range."]}) from exc
        return super().filter(qs, value)


class AuditRecordFilterSet(django_filters.FilterSet):
    """Who (``actor``), what (``action``, exact or a prefix ending in ``*``), to what (``target``:
    a type, an id or part of its name; or ``target_type``/``target_id`` exactly), where
    (``workspace``, ``cluster``: an id or a name), how it ended (``outcome``) and when
    (``since``/``until``). Records written before the workspace and cluster were recorded
    (migration 0006) match no workspace or cluster filter."""

    actor = django_filters.CharFilter(field_name="actor_username", lookup_expr="iexact", max_length=150)
    action = django_filters.CharFilter(
        method="filter_action", max_length=100,
        help_text="Exact action, or a prefix ending in '*' (for example 'token.*').",
    )
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices)
    since = UtcDateTimeFilter(field_name="timestamp", lookup_expr="gte", label="since")
    until = UtcDateTimeFilter(field_name="timestamp", lookup_expr="lte", label="until")
    request_id = django_filters.CharFilter(max_length=64)
    target = django_filters.CharFilter(
        method="filter_target", max_length=300,
        help_text="The object: its type ('clusters.cluster'), its id, or part of its name.",
    )
    target_type = django_filters.CharFilter(max_length=100)
    target_id = django_filters.CharFilter(max_length=100)
    workspace = django_filters.CharFilter(
        method="filter_workspace", max_length=100, help_text="A workspace id or name.")
    cluster = django_filters.CharFilter(method="filter_cluster", max_length=100, help_text="A cluster id or name.")

    class Meta:
        model = AuditRecord
        fields = ("actor", "action", "outcome", "since", "until", "request_id", "target", "target_type",
                  "target_id", "workspace", "cluster")

    def filter_action(self, queryset: QuerySet[AuditRecord], name: str, value: str) -> QuerySet[AuditRecord]:
        if value.endswith("*"):
            return queryset.filter(action__startswith=value[:-1])
        return queryset.filter(action=value)

    def filter_target(self, queryset: QuerySet[AuditRecord], name: str, value: str) -> QuerySet[AuditRecord]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(target_type=value) | Q(target_id=value) | Q(target_repr__icontains=value))

    @staticmethod
    def _scope(queryset: QuerySet[AuditRecord], prefix: str, value: str) -> QuerySet[AuditRecord]:
        value = value.strip()
        if not value:
            return queryset
        by_name = Q(**{f"{prefix}_name": value})
        if value.isascii() and value.isdigit() and len(value) <= 18:  # ASCII digits only: '١٢' is a name
            return queryset.filter(Q(**{f"{prefix}_id": int(value)}) | by_name)
        return queryset.filter(by_name)

    def filter_workspace(self, queryset: QuerySet[AuditRecord], name: str, value: str) -> QuerySet[AuditRecord]:
        return self._scope(queryset, "workspace", value)

    def filter_cluster(self, queryset: QuerySet[AuditRecord], name: str, value: str) -> QuerySet[AuditRecord]:
        return self._scope(queryset, "cluster", value)


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Part of the username, name or email.")
    role = django_filters.ChoiceFilter(choices=SystemRole.choices)
    is_active = StrictBooleanFilter()

    class Meta:
        model = User
        fields = ("q", "role", "is_active")

    def filter_q(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        return queryset.filter(
            Q(username__icontains=value) | Q(email__icontains=value)
            | Q(first_name__icontains=value) | Q(last_name__icontains=value)
        )
