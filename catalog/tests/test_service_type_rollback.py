"""Charts that met the real apiserver where the sandbox used to be kinder: a release whose Service
went from ClusterIP to NodePort rolls back to ClusterIP (the server clears the node ports it
allocated when the type goes back; a Service keeping nodePort with type ClusterIP would be
refused), and a chart with a ValidatingWebhookConfiguration (ingress-nginx's default) installs."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog import deploy, helm, releases
from catalog.models import Package, PackageVersion, Release
from catalog.tests.helpers import CHART_FILES, Driver
from catalog.tests.helpers import release_state as _state
from catalog.tests.helpers import setup_service_maps as _setup
from clusters.tests.helpers import client_for

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


WEBHOOK = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: {{ .Release.Name }}-{{ .Release.Namespace }}-admission
webhooks:
  - name: validate.{{ .Release.Name }}.example.com
    admissionReviewVersions: [v1]
    sideEffects: None
    clientConfig:
      service: {namespace: {{ .Release.Namespace }}, name: {{ .Release.Name }}-web, path: /validate}
    rules:
      - apiGroups: [networking.k8s.io]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [ingresses]
"""


def test_an_admin_installs_a_chart_with_a_validating_webhook(admin_api: APIClient, admin_user: Any, sandbox: Any,
                                                             driver: Driver) -> None:
    """As ingress-nginx's default install: the ValidatingWebhookConfiguration passes the
    server-side dry-run and is applied (the sandbox serves the group; it never calls the hook)."""
    _workspace, (sm,), _developer, base = _setup(admin_api, sandbox, ("cluster-1",))
    archive = helm.build_archive("hooked", "1.0.0", {**CHART_FILES, "templates/webhook.yaml": WEBHOOK})
    info = helm.inspect(archive)
    version = PackageVersion.objects.create(
        package=Package.objects.create(source=base.package.source, name="hooked"), version="1.0.0",
        archive=archive, digest="sha256:hooked", values_yaml=info.values_yaml, values_schema=info.schema)
    release = releases.create_release(sm=sm, name="hooked", version=version, values={}, strategy={},
                                      user=admin_user, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    with client_for(sandbox, "cluster-1") as kube:
        hook = kube.get_object("ValidatingWebhookConfiguration", f"hooked-{sm.namespace}-admission",
                               api_version="admissionregistration.k8s.io/v1")
    assert hook["webhooks"][0]["failurePolicy"] == "Fail"  # defaulted by the server
    assert hook["metadata"]["labels"][deploy.RELEASE_LABEL] == str(release.pk)
