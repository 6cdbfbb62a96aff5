"""Filters for the audit log list."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from portal.models import AuditOutcome, AuditRecord, SystemRole, User


class AuditRecordFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_username", lookup_expr="iexact")
    action = django_filters.CharFilter(
        method="filter_action", help_text="Exact action, or a prefix ending in '*' (for example 'token.*')."
    )
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices)
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")
    request_id = django_filters.CharFilter()
    target_type = django_filters.CharFilter()
    target_id = django_filters.CharFilter()

    class Meta:
        model = AuditRecord
        fields = ("actor", "action", "outcome", "since", "until", "request_id", "target_type", "target_id")

    def filter_action(self, queryset: QuerySet[AuditRecord], name: str, value: str) -> QuerySet[AuditRecord]:
        if value.endswith("*"):
            return queryset.filter(action__startswith=value[:-1])
        return queryset.filter(action=value)


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", help_text="Part of the username, name or email.")
    role = django_filters.ChoiceFilter(choices=SystemRole.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = User
        fields = ("q", "role", "is_active")

    def filter_q(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        return queryset.filter(
            Q(username__icontains=value) | Q(email__icontains=value)
            | Q(first_name__icontains=value) | Q(last_name__icontains=value)
        )
