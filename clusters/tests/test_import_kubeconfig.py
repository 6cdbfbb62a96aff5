"""``manage.py import_kubeconfig``: register from a file, refresh on re-run, refuse bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from clusters.models import Cluster
from portal.models import AuditRecord

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_registers_then_refreshes(sandbox: Any, tmp_path: Path) -> None:
    handle = sandbox.cluster("cluster-3")
    call_command("import_kubeconfig", str(handle.kubeconfig), "--name", "imported", "--provider", "gke",
                 "--region", "asia-northeast3", "--stage", "prod", "--label", "team=core")
    cluster = Cluster.objects.get(name="imported")
    assert (cluster.provider, cluster.region, cluster.stage, cluster.labels) == ("gke", "asia-northeast3", "prod",
                                                                                 {"team": "core"})
    assert cluster.get_credentials().token == handle.token
    assert handle.token not in cluster.credentials_encrypted
    assert cluster.kubernetes_version.startswith("v1.")
    token = sandbox.rotate_token("cluster-3")
    call_command("import_kubeconfig", str(sandbox.cluster("cluster-3").kubeconfig), "--name", "imported")
    cluster.refresh_from_db()
    assert cluster.get_credentials().token == token
    assert Cluster.objects.filter(name="imported").count() == 1
    assert set(AuditRecord.objects.values_list("action", flat=True)) >= {"cluster.register", "cluster.credentials"}


def test_import_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_kubeconfig", str(tmp_path / "missing"), "--name", "x")
    with pytest.raises(CommandError, match="DNS-1123"):
        call_command("import_kubeconfig", str(tmp_path / "missing"), "--name", "Bad_Name")
    exec_config = tmp_path / "exec.kubeconfig"
    exec_config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster: {server: 'https://10.0.0.1'}\n"
        "contexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user:\n    exec: {command: aws}\n"
    )
    with pytest.raises(CommandError, match="exec plugin"):
        call_command("import_kubeconfig", str(exec_config), "--name", "x")
    assert not Cluster.objects.exists()
