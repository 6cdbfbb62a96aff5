"""What keeps a row from being deleted: the rows that reference it through a ``PROTECT`` foreign
key, directly or through the rows its deletion would cascade to.

Why here: an app lower in the stack (clusters, workspaces) must refuse to delete a row an app above
it still uses (a build definition that builds on a cluster or in a service map) without importing
that app. Django already knows the answer: its deletion collector raises ``ProtectedError`` naming
the referring rows. Callers turn the names into a 409 a person can act on, before anything is
written, instead of a 500 from the database layer.
"""

from __future__ import annotations

from django.db import router
from django.db.models import Model
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

MAX_NAMED = 5


def describe(objects: object) -> str:
    """``build definition web, build definition api`` (at most :data:`MAX_NAMED`, then ``…``)."""
    names = sorted({f"{o._meta.verbose_name} {o}" for o in objects if isinstance(o, Model)})  # type: ignore[attr-defined]
    return ", ".join(names[:MAX_NAMED]) + (", …" if len(names) > MAX_NAMED else "")


def protected_by(obj: Model) -> str:
    """The rows that would keep ``obj`` from being deleted, named (``""``: none)."""
    collector = Collector(using=router.db_for_write(type(obj), instance=obj), origin=obj)
    try:
        collector.collect([obj])
    except ProtectedError as exc:
        return describe(exc.protected_objects)
    except RestrictedError as exc:
        return describe(exc.restricted_objects)
    return ""
