"""`make run`'s demo workspace: created once, left alone the second time, clusters optional."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from clusters.models import Cluster
from portal.models import User
from workspaces.models import ClusterAllocation, ServiceMap, Workspace

pytestmark = pytest.mark.django_db


def test_seed_demo_workspace_is_idempotent(tmp_path: Path) -> None:
    Cluster.objects.create(name="pangyo-dev", server="https://127.0.0.1:1")
    credentials = tmp_path / "developer-credentials"
    call_command("seed_demo_workspace", "--password-file", str(credentials))
    username, password = credentials.read_text().split()
    developer = User.objects.get(username=username)
    assert developer.check_password(password)
    assert not developer.is_operator
    workspace = Workspace.objects.get(name="demo-team")
    assert list(workspace.members.all()) == [developer]
    assert ClusterAllocation.objects.filter(workspace=workspace).count() == 1  # busan-stage is not registered
    sm = ServiceMap.objects.get(workspace=workspace)
    assert (sm.namespace, sm.quota["requests.cpu"], sm.status) == ("demo-shop-dev", "2", "pending")

    credentials.unlink()
    call_command("seed_demo_workspace", "--password-file", str(credentials))
    assert not credentials.exists()  # the account existed: no new password
    assert ServiceMap.objects.filter(workspace=workspace).count() == 1
