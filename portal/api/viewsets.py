"""The base every access-scoped viewset builds on: querysets and permission checks through the
model's registered access class (:mod:`portal.access`), never written in the view.

A viewset sets ``access_model`` (or a ``queryset`` whose model has an access class);
:meth:`AccessMixin.get_queryset` starts from :meth:`~portal.access.Access.visible`, so a foreign
object answers 404, and :meth:`AccessMixin.scope_queryset` narrows it further (filters, joins)
without widening it. :meth:`AccessMixin.require` asks the access class of the object it is given
(``self.require("manage_members", workspace)``), so a nested viewset checks against its parent
with the parent's own rules. A refusal is :class:`portal.errors.Forbidden`, turned into the
API's error body by the one exception handler.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import QuerySet

from portal import access


class AccessMixin:
    """Mix into a DRF ``GenericViewSet`` (before it): scoping and checks through the access class."""

    access_model: ClassVar[type[models.Model] | None] = None
    request: Any
    queryset: Any

    def get_access(self) -> access.Access[Any]:
        model = self.access_model or getattr(self.queryset, "model", None)
        if model is None:
            raise LookupError(f"{type(self).__name__} names no access_model")
        return access.access_for(model)

    def visible(self) -> QuerySet[Any]:
        """What the caller may see of this viewset's model, before any narrowing."""
        return self.get_access().visible(self.request.user)

    def scope_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow the visible objects (filters, ``select_related``); never widen them."""
        return queryset

    def get_queryset(self) -> QuerySet[Any]:
        return self.scope_queryset(self.visible())

    def can(self, action: str, obj: models.Model) -> bool:
        return access.can(self.request.user, action, obj)

    def require(self, action: str, obj: models.Model) -> None:
        """Raise :class:`portal.errors.Forbidden` unless the caller may do ``action`` on ``obj``
        (asked of ``obj``'s own access class)."""
        access.require(self.request.user, action, obj)
