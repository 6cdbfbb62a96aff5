"""`make run`'s demo catalog: the charts under scripts/demo-charts, uploaded once, and they render."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from catalog import helm
from catalog.models import PackageVersion

pytestmark = pytest.mark.django_db


def test_seed_demo_catalog_uploads_renderable_charts_once() -> None:
    call_command("seed_demo_catalog")
    call_command("seed_demo_catalog")
    version = PackageVersion.objects.get(package__source__name="demo-charts", package__name="hello-web")
    assert version.package.source.workspace is None  # shared
    objects = helm.render(bytes(version.archive or b""), {"greeting": "annyeong"}, release="demo", namespace="shop")
    assert sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects) == [
        "ConfigMap/demo-hello-config", "Deployment/demo-hello", "Service/demo-hello"]
    assert PackageVersion.objects.filter(package__source__name="demo-charts").count() == 1
