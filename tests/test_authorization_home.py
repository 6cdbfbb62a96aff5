"""Authorization has one home (issue 12): the access modules.

A grep of the product code (tests, migrations and the sandbox left out) proves that no
``require()`` is written outside ``*/access.py``, that no view, action or task raises a
permission refusal of its own (``PermissionDenied(`` / ``Forbidden(``, or the refusals of
:mod:`portal.access`) outside the access modules and the ``portal`` package (its DRF permission
classes and the CSRF check), and that the per-app access classes are registered and answer the
way the views used to. The behaviour itself is guarded by ``tests/test_isolation.py`` and the
authorization matrix in ``tests/security``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from portal import access as portal_access
from portal import errors

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("portal", "clusters", "workspaces", "catalog", "builds", "monitoring", "identity", "activity")

DEF_REQUIRE = re.compile(r"^\s*def require\(", re.M)
REFUSAL = re.compile(r"\b(PermissionDenied|Forbidden|grant_missing|admin_only)\(")


def product_files() -> list[Path]:
    out = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts or path.name == "testing.py":
                continue
            out.append(path)
    return out


# The base viewset's ``require(action, obj)`` only hands the question to the object's access class.
DELEGATES = frozenset({"portal/api/viewsets.py"})


def is_access_module(path: Path) -> bool:
    return path.name == "access.py"


def refusals(text: str) -> list[str]:
    """Lines that construct a refusal (not the ones that only name the class in a docstring,
    an ``except`` or an ``isinstance``)."""
    hits = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", "except", "class ")) or "isinstance(" in stripped:
            continue
        if REFUSAL.search(line) and not stripped.startswith(('"', "'", ":", "*")):
            hits.append(stripped)
    return hits


def test_the_product_is_found() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in product_files()}
    assert {"portal/access.py", "clusters/access.py", "workspaces/access.py", "catalog/access.py",
            "workspaces/api/views.py", "portal/api/viewsets.py"} <= files


def test_require_is_defined_only_in_access_modules() -> None:
    offenders = [p.relative_to(ROOT).as_posix() for p in product_files()
                 if not is_access_module(p) and p.relative_to(ROOT).as_posix() not in DELEGATES
                 and DEF_REQUIRE.search(p.read_text())]
    assert offenders == [], f"def require( outside the access modules: {offenders}"


def test_refusals_are_raised_only_in_access_modules_and_portal() -> None:
    offenders = {}
    for path in product_files():
        relative = path.relative_to(ROOT)
        if is_access_module(path) or relative.parts[0] == "portal":
            continue
        if relative.parts[:2] == ("clusters", "kube"):  # a cluster's own 403, typed by the client layer
            continue
        if relative.as_posix() == "clusters/gateway.py":  # relays the cluster's 403 to the view: no decision
            continue
        hits = refusals(path.read_text())
        if hits:
            offenders[relative.as_posix()] = hits
    assert offenders == {}, f"permission refusals outside the access modules: {offenders}"


def test_the_scan_sees_a_refusal() -> None:
    """The check above is not vacuous: it catches the shapes the views used to have."""
    assert refusals('        raise exceptions.PermissionDenied("Only system admins may x.")')
    assert refusals("    raise portal_access.grant_missing(workspace.name, grant)")
    assert DEF_REQUIRE.search("def require(user, workspace, grant):\n")
    assert not refusals("    except PermissionDenied:")
    assert not refusals('    """Raise :class:`portal.errors.Forbidden` (``grant_missing``) unless ...')


def test_every_guarded_model_has_an_access_class() -> None:
    from catalog.models import CatalogSource, Package, PackageVersion
    from clusters.models import Cluster
    from workspaces.models import (
        ClusterAllocation,
        Membership,
        RegistryAllocation,
        Role,
        ServiceMap,
        Workspace,
    )

    for model in (Cluster, Workspace, ServiceMap, Membership, ClusterAllocation, RegistryAllocation, Role,
                  CatalogSource, Package, PackageVersion):
        assert portal_access.access_for(model).model is model


@pytest.mark.django_db
def test_service_map_actions_follow_the_role(world_sm: tuple[object, object, object]) -> None:
    """A developer may deploy, roll back, scale, edit config and delete workloads but neither
    manage the service map nor reveal secrets; the refusal names the grant and the workspace."""
    sm, developer, viewer = world_sm
    access = portal_access.access_for(sm)  # type: ignore[arg-type]
    for action in ("deploy", "rollback", "scale", "edit_config", "delete_workloads"):
        assert access.can(developer, action, sm), action
        assert not access.can(viewer, action, sm), action
    for action in ("manage", "reveal_secrets"):
        assert not access.can(developer, action, sm), action
    with pytest.raises(errors.Forbidden) as refused:
        access.require(developer, "reveal_secrets", sm)
    assert refused.value.code == "grant_missing"
    assert refused.value.params == {"workspace": "team", "grant": "secrets.reveal"}
    assert refused.value.message == ("Your role in workspace team does not grant secrets.reveal; "
                                     "ask a manager of the workspace.")


@pytest.fixture
def world_sm(db: None) -> tuple[object, object, object]:
    from clusters.models import Cluster
    from portal.testing import make_user
    from workspaces.models import Membership, Role, ServiceMap, Workspace

    cluster = Cluster.objects.create(name="c1", server="https://127.0.0.1:1")
    workspace = Workspace.objects.create(name="team")
    sm = ServiceMap.objects.create(workspace=workspace, cluster=cluster, namespace="team-ns")
    developer, viewer = make_user("dev"), make_user("view")
    Membership.objects.create(workspace=workspace, user=developer, role=Role.objects.get(key="developer"))
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.objects.get(key="viewer"))
    return sm, developer, viewer


def test_an_access_class_is_found_without_importing_its_module_first() -> None:
    """``access_for`` loads the owning app's access module, so a caller (the consumer, a task)
    needs no import of it to ask (``django.setup()`` alone does not import ``catalog.access``)."""
    code = ("import django; django.setup(); from portal import access; "
            "from catalog.models import CatalogSource; print(type(access.access_for(CatalogSource)).__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings_test"})
    assert out.stdout.strip() == "CatalogSourceAccess", out.stderr
