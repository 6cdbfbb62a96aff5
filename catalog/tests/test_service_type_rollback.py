"""A release whose Service went from ClusterIP to NodePort rolls back to ClusterIP against the
sandbox, which, like the real apiserver, clears the node ports it allocated when the type goes
back (a Service keeping nodePort with type ClusterIP would be refused by a real server)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import deploy, helm, releases
from catalog.models import Package, PackageVersion, Release
from catalog.tests.test_deploy import CHART_FILES, Driver, _setup, _state
from clusters.tests.test_watcher_e2e import client_for

pytestmark = pytest.mark.django_db(transaction=True)

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-web
spec:
  type: {{ .Values.service.type }}
  selector: {app: {{ .Release.Name }}-web}
  ports: [{name: http, port: 80}]
"""


def test_rollback_from_node_port_to_cluster_ip(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, base = _setup(admin_api, sandbox, ("cluster-1",))
    files = {**CHART_FILES, "templates/service.yaml": SERVICE,
             "values.yaml": CHART_FILES["values.yaml"] + "  type: ClusterIP\n"}
    archive = helm.build_archive("typed", "1.0.0", files)
    info = helm.inspect(archive)
    version = PackageVersion.objects.create(
        package=Package.objects.create(source=base.package.source, name="typed"), version="1.0.0", archive=archive,
        digest="sha256:typed", values_yaml=info.values_yaml, values_schema=info.schema)
    release = releases.create_release(sm=sm, name="typed", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))

    release = releases.upgrade_release(release=release, version=None, values={"service": {"type": "NodePort"}},
                                       strategy=None, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 2))
    with client_for(sandbox, "cluster-1") as kube:
        live = kube.get_object("Service", "typed-web", sm.namespace)
    assert live["spec"]["type"] == "NodePort"
    assert live["spec"]["ports"][0]["nodePort"] >= 30000

    release = releases.rollback_release(release=release, to=1, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 3))
    with client_for(sandbox, "cluster-1") as kube:
        live = kube.get_object("Service", "typed-web", sm.namespace)
    assert live["spec"]["type"] == "ClusterIP"
    assert "nodePort" not in live["spec"]["ports"][0]
    assert Release.objects.get(pk=release.pk).status == "deployed"
    assert deploy.drift(release)["objects"] == []
