"""Authorization in one home: per-model access classes, in the manner of AWX's ``access.py``.

Each app declares, in its own ``access.py``, one :class:`Access` subclass per model it guards,
answering two questions and nothing else:

* **which objects may this user see** (:meth:`Access.visible`, a queryset, so lists and lookups
  leave foreign objects out and answer 404, never 403), and
* **may this user do this action on this object** (:meth:`Access.can`, dispatching to
  ``can_<action>`` methods).

Views (through :class:`portal.api.viewsets.AccessMixin`), the WebSocket consumer, and actions
that act on a user's behalf all ask here; a task never decides a permission (it was checked when
the intent was created). A refusal is :class:`portal.errors.Forbidden` with ``code`` and ``params``
the console translates. Nothing here imports an app: apps register their classes at import.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, ClassVar, Generic, TypeVar

from django.db import models
from django.db.models import QuerySet

from portal import errors, events

M = TypeVar("M", bound=models.Model)

_REGISTRY: dict[type[models.Model], Access[Any]] = {}


def signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_admin(user: Any) -> bool:
    return signed_in(user) and bool(getattr(user, "is_admin", False))


def is_operator(user: Any) -> bool:
    """Operators (and admins, who are operators too) see every cluster and workspace and act on them."""
    return signed_in(user) and bool(getattr(user, "is_operator", False))


def is_auditor(user: Any) -> bool:
    """Auditors read every cluster and workspace as operators do, and change nothing."""
    return signed_in(user) and bool(getattr(user, "is_auditor", False))


def reads_all_clusters(user: Any) -> bool:
    """Reads every cluster, namespace and workspace: operators, admins and auditors."""
    return signed_in(user) and bool(getattr(user, "reads_all_clusters", False))


class Access(Generic[M]):
    """Who may see and do what with one model. Subclasses set :attr:`model`, implement
    :meth:`visible` and one ``can_<action>(user, obj)`` per action, and may override
    :meth:`denied` to say, in the user's terms, what they lack."""

    model: ClassVar[type[models.Model]]

    def visible(self, user: Any) -> QuerySet[M]:
        raise NotImplementedError

    def can(self, user: Any, action: str, obj: M | None = None) -> bool:
        check = getattr(self, f"can_{action}", None)
        if check is None:
            raise LookupError(f"{type(self).__name__} does not know the action {action!r}")
        return bool(check(user, obj))

    def denied(self, user: Any, action: str, obj: M | None) -> errors.Forbidden:
        return errors.Forbidden(f"You may not {action.replace('_', ' ')} this {self.model._meta.verbose_name}.",
                                code="permission_denied", params={"action": action})

    def require(self, user: Any, action: str, obj: M | None = None) -> None:
        """Raise :class:`portal.errors.Forbidden` unless ``user`` may do ``action`` on ``obj``."""
        if not self.can(user, action, obj):
            raise self.denied(user, action, obj)


def register(access: type[Access[Any]]) -> type[Access[Any]]:
    """Class decorator: make ``access`` the one answer for its model."""
    _REGISTRY[access.model] = access()
    return access


def access_for(model: type[models.Model] | models.Model) -> Access[Any]:
    cls = model if isinstance(model, type) else type(model)
    if cls not in _REGISTRY:  # the owning app's access module registers its classes when imported
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(f"{cls._meta.app_config.name}.access")
    try:
        return _REGISTRY[cls]
    except KeyError:
        raise LookupError(f"no access class is registered for {cls.__name__}") from None


def visible(user: Any, model: type[M]) -> QuerySet[M]:
    return access_for(model).visible(user)


def can(user: Any, action: str, obj: models.Model) -> bool:
    return access_for(obj).can(user, action, obj)


def require(user: Any, action: str, obj: models.Model) -> None:
    access_for(obj).require(user, action, obj)


def admin_only(what: str) -> errors.Forbidden:
    return errors.Forbidden(f"Only system admins may {what}.", code="admin_required", params={"what": what})


def grant_missing(workspace_name: str, grant: str) -> errors.Forbidden:
    """The refusal every workspace-scoped check gives: which grant, in which workspace, and whom to ask."""
    return errors.Forbidden(
        f"Your role in workspace {workspace_name} does not grant {grant}; ask a manager of the workspace.",
        code="grant_missing", params={"workspace": workspace_name, "grant": grant})


# ---------------------------------------------------------------------------- socket groups
# The WebSocket consumer asks here, like a view: each group family's authorizer is declared by the
# app that owns it (in its access module, through :func:`portal.events.register_group`).


def can_subscribe(user: Any, group: str) -> bool:
    """May ``user`` hear the events of ``group``? Unknown and malformed groups: no."""
    return events.can_subscribe(user, group)


def revoked_groups(user: Any, groups: Any) -> list[str]:
    """The groups among ``groups`` that ``user`` may no longer hear."""
    return sorted(g for g in groups if not can_subscribe(user, g))
