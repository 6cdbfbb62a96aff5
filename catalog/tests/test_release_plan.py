"""The release plan and deploy path against a sandbox cluster, through the API: Secret values
never shown without ``secrets.reveal``, objects that collide with the portal's own refused, a plan
that builds exactly what the deploy applies, charts that render nulls, charts that call
``lookup``, pods a LimitRange default would make invalid, and responses that match the schema
and the docs."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.api import release_serializers as s
from catalog.models import Package, PackageVersion, Release, Revision
from catalog.tests.helpers import CHART_FILES, Driver, add_version, release_state, setup_service_maps
from catalog.tests.intents import result
from clusters.tests.helpers import client_for
from portal.testing import make_user
from workspaces.models import Membership, Role, ServiceMap

# plans and drift checks are answered by the real worker (202 + a cluster intent)
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker_process")]
REDACTED, REDACTED_CHANGED = "<redacted>", "<redacted: changed>"

SECRET_TEMPLATE = """apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-secret
type: Opaque
stringData:
  password: {{ .Values.password | quote }}
  user: admin
"""


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _chart(sm: ServiceMap, version: str, extra: dict[str, str], values_yaml: str = "") -> PackageVersion:
    """A version of the test package with the shop chart's files plus ``extra``."""
    files = {**CHART_FILES, **extra}
    if values_yaml:
        files["values.yaml"] = CHART_FILES["values.yaml"] + values_yaml
    package = Package.objects.get(source__workspace=sm.workspace, name="shop")
    return add_version(package, version, files)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _plan(api: APIClient, sm: ServiceMap, version: PackageVersion, values: dict[str, Any],
          name: str = "shop") -> dict[str, Any]:
    response = api.post("/api/catalog/releases/plan/", {"service_map": sm.pk, "name": name,
                                                        "package_version": version.pk, "values": values},
                        format="json")
    return result(api, response)


# ---------------------------------------------------------------------------- Secrets


def test_secret_values_are_redacted_in_plan_manifest_diff_and_drift(admin_api: APIClient, sandbox: Any,
                                                                    driver: Driver) -> None:
    workspace, (sm,), developer, _version = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    version = _chart(sm, "1.1.0", {"templates/secret.yaml": SECRET_TEMPLATE}, "password: changeme\n")
    manager = make_user(f"secmgr{sm.pk}")
    Membership.objects.create(workspace=workspace, user=manager, role=Role.objects.get(key="manager"))
    dev, mgr = api_for(developer), api_for(manager)
    # A live Secret with the chart's name (made by someone else), and the plan would change it.
    with client_for(sandbox, "cluster-1") as kube:
        kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-secret", "namespace": sm.namespace},
                    "type": "Opaque", "data": {"password": _b64("live-canary-123"), "user": _b64("admin")}},
                   field_manager="kubectl-client-side-apply")

    plan = _plan(dev, sm, version, {"password": "new-canary-456"})
    assert plan["valid"] is True, plan
    text = json.dumps(plan)
    for leaked in ("live-canary-123", _b64("live-canary-123"), "new-canary-456", _b64("new-canary-456")):
        assert leaked not in text
    assert "Secret/shop-secret" in plan["changed"]
    # only the changed key shows as changed; the unchanged key is redacted the same on both sides
    assert f"+  password: '{REDACTED_CHANGED}'" in plan["diff"]
    assert f"-  password: {REDACTED}" in plan["diff"]
    assert "user:" not in "".join(line for line in plan["diff"].splitlines() if line[:1] in "+-"
                                  and not line.startswith(("+++", "---")))

    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": version.pk,
                                                  "values": {"password": "new-canary-456"}}, format="json")
    assert created.status_code == 202, created.content
    release = Release.objects.get(pk=created.json()["id"])
    driver.run(until=lambda: release_state(release) == ("deployed", 1))

    # The values that became the Secret's: redacted in the release, its history, the list.
    shown = dev.get(f"/api/catalog/releases/{release.pk}/").json()
    assert shown["values"] == {"password": REDACTED}
    assert shown["revisions"][0]["values"] == {"password": REDACTED}
    assert "new-canary-456" not in json.dumps(dev.get(f"/api/catalog/releases/?service_map={sm.pk}").json())
    # The revision's manifest: redacted for everyone unless a holder of secrets.reveal asks.
    url = f"/api/catalog/releases/{release.pk}/revisions/1/"
    assert mgr.get(url + "?reveal=true").json()["values"] == {"password": "new-canary-456"}
    manifest = dev.get(url).json()["manifest"]
    assert "new-canary-456" not in manifest
    assert f"password: {REDACTED}" in manifest
    assert dev.get(url + "?reveal=true").status_code == 403
    assert "new-canary-456" in mgr.get(url + "?reveal=true").json()["manifest"]
    assert "new-canary-456" not in mgr.get(url).json()["manifest"]

    # Between revisions: the changed key shows, no value does.
    assert dev.post(f"/api/catalog/releases/{release.pk}/upgrade/", {"values": {"password": "third-canary-789"}},
                    format="json").status_code == 202
    driver.run(until=lambda: release_state(release) == ("deployed", 2))
    diff = dev.get(f"/api/catalog/releases/{release.pk}/diff/?from=1&to=2").json()["diff"]
    assert "new-canary-456" not in diff
    assert "third-canary-789" not in diff
    assert f"+  password: '{REDACTED_CHANGED}'" in diff
    assert dev.get(f"/api/catalog/releases/{release.pk}/diff/?from=1&to=2&reveal=true").status_code == 403

    # Drift: someone changes the Secret in the cluster.
    with client_for(sandbox, "cluster-1") as kube:
        kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-secret", "namespace": sm.namespace},
                    "data": {"password": _b64("hacked-canary-000")}}, field_manager="kubectl-edit")
    drift = result(dev, dev.get(f"/api/catalog/releases/{release.pk}/drift/"))
    assert drift["objects"] == ["Secret/shop-secret"]
    text = json.dumps(drift)
    for leaked in ("hacked-canary-000", _b64("hacked-canary-000"), "third-canary-789", _b64("third-canary-789")):
        assert leaked not in text
    assert REDACTED_CHANGED in drift["diff"]
    assert dev.get(f"/api/catalog/releases/{release.pk}/drift/?reveal=true").status_code == 403  # when asked
    revealed = result(mgr, mgr.get(f"/api/catalog/releases/{release.pk}/drift/?reveal=true"))["diff"]
    assert "hacked-canary-000" in revealed or _b64("hacked-canary-000") in revealed

    # Values sent back as shown keep the stored Secret value; a <redacted> with nothing behind it is refused.
    shown = dev.get(f"/api/catalog/releases/{release.pk}/").json()["values"]
    assert dev.post(f"/api/catalog/releases/{release.pk}/upgrade/", {"values": shown},
                    format="json").status_code == 202
    driver.run(until=lambda: release_state(release) == ("deployed", 3))
    assert Revision.objects.get(release=release, number=3).values == {"password": "third-canary-789"}
    refused = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "other", "package_version": version.pk,
                                                  "values": {"password": REDACTED}}, format="json")
    assert refused.status_code == 400
    assert "values.password" in refused.json()["errors"]


# ---------------------------------------------------------------------------- the portal's own objects


PORTAL_OBJECTS = """apiVersion: v1
kind: ResourceQuota
metadata:
  name: portal-quota
spec:
  hard: {pods: "100"}
---
apiVersion: v1
kind: LimitRange
metadata:
  name: portal-limits
spec:
  limits: []
"""


def test_objects_that_collide_with_the_portals_own_are_refused(admin_api: APIClient, sandbox: Any,
                                                                 driver: Driver) -> None:
    _workspace, (sm,), developer, plain = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    version = _chart(sm, "1.2.0", {"templates/portal.yaml": PORTAL_OBJECTS})
    dev = api_for(developer)
    plan = _plan(dev, sm, version, {})
    assert plan["valid"] is False
    refused = plan["errors"]["manifest.portal_owned"]
    assert any("ResourceQuota/portal-quota" in m and "service map's own ResourceQuota" in m for m in refused)
    assert any("LimitRange/portal-limits" in m for m in refused)
    assert plan["diff"] == ""  # nothing was dry-run against the cluster either

    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": version.pk,
                                                  "values": {}}, format="json")
    assert created.status_code == 400
    assert "manifest.portal_owned" in created.json()["errors"]
    assert not Release.objects.filter(service_map=sm).exists()
    # and on upgrade of a release that did not have them
    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": plain.pk,
                                                  "values": {}}, format="json")
    assert created.status_code == 202, created.content
    release = Release.objects.get(pk=created.json()["id"])
    driver.run(until=lambda: release_state(release) == ("deployed", 1))
    upgraded = dev.post(f"/api/catalog/releases/{release.pk}/upgrade/", {"package_version": version.pk},
                        format="json")
    assert upgraded.status_code == 400
    assert "manifest.portal_owned" in upgraded.json()["errors"]
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.get_object("ResourceQuota", "portal-quota", sm.namespace)["spec"]["hard"]["pods"] == "10"


# ---------------------------------------------------------------------------- plan == deploy


def test_a_plan_with_unchanged_values_shows_no_change(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, version = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    dev = api_for(developer)
    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": version.pk,
                                                  "values": {"message": "same"}}, format="json")
    assert created.status_code == 202, created.content
    release = Release.objects.get(pk=created.json()["id"])
    driver.run(until=lambda: release_state(release) == ("deployed", 1))
    plan = _plan(dev, sm, version, {"message": "same"})
    assert plan["valid"] is True, plan
    assert (plan["changed"], plan["diff"]) == ([], "")
    changed = _plan(dev, sm, version, {"message": "different"})
    assert changed["changed"] == ["ConfigMap/shop-config"]
    assert "+  message: different" in changed["diff"]


# ---------------------------------------------------------------------------- nulls


NULLS = {
    "templates/nulls.yaml": """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-nulls
  labels:
  annotations:
data:
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-nulls
  annotations:
spec:
  selector: {app: {{ .Release.Name }}-web}
  ports: [{port: 81}]
  externalIPs:
""",
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  annotations:
  labels:
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}-web}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}-web}
      annotations:
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
          env:
          resources:
            requests: {cpu: 50m, memory: 32Mi}
""",
}


def test_a_chart_that_renders_nulls_installs(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, _plain = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    version = _chart(sm, "1.3.0", NULLS)
    dev = api_for(developer)
    assert _plan(dev, sm, version, {})["valid"] is True
    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": version.pk,
                                                  "values": {}}, format="json")
    assert created.status_code == 202, created.content
    release = Release.objects.get(pk=created.json()["id"])
    driver.run(until=lambda: release_state(release) == ("deployed", 1))
    with client_for(sandbox, "cluster-1") as kube:
        config = kube.get_object("ConfigMap", "shop-nulls", sm.namespace)
        assert config["metadata"]["labels"]["portal.cluster-portal.io/release"] == str(release.pk)
        assert "data" not in config
        assert kube.get_object("Service", "shop-nulls", sm.namespace)["metadata"]["annotations"][
            "portal.cluster-portal.io/revision"] == "1"


# ---------------------------------------------------------------------------- lookup


LOOKUP = """{{- $existing := lookup "v1" "Secret" .Release.Namespace "shop-admin" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-lookup
data:
  found: {{ if $existing }}"yes"{{ else }}"no"{{ end }}
"""


def test_a_chart_that_calls_lookup_is_warned_about(admin_api: APIClient, sandbox: Any) -> None:
    _workspace, (sm,), developer, plain = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    version = _chart(sm, "1.4.0", {"templates/lookup.yaml": LOOKUP})
    dev = api_for(developer)
    plan = _plan(dev, sm, version, {})
    assert plan["valid"] is True, plan
    assert [w["code"] for w in plan["warnings"]] == ["chart_uses_lookup"]
    assert "templates/lookup.yaml" in plan["warnings"][0]["message"]
    assert _plan(dev, sm, plain, {})["warnings"] == []


# ---------------------------------------------------------------------------- LimitRange defaults


def test_a_request_above_the_limitrange_default_limit_is_refused(admin_api: APIClient, sandbox: Any) -> None:
    _workspace, (sm,), developer, _plain = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    heavy = CHART_FILES["templates/deployment.yaml"].replace("requests: {cpu: 50m, memory: 32Mi}",
                                                             "requests: {cpu: 1, memory: 32Mi}")
    version = _chart(sm, "1.5.0", {"templates/deployment.yaml": heavy})
    dev = api_for(developer)
    plan = _plan(dev, sm, version, {})
    assert plan["valid"] is False
    reason = next(m for m in plan["errors"]["quota"] if "shop-web" in m)
    assert "requests cpu 1" in reason
    assert "limit 500m the service map's LimitRange gives it by default" in reason
    assert reason in plan["preflight"]["problems"]
    assert plan["preflight"]["fits"] is False
    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": version.pk,
                                                  "values": {}}, format="json")
    assert created.status_code == 400
    assert "LimitRange" in str(created.json()["errors"])
    # with its own limit at or above the request it fits
    fitting = _chart(sm, "1.5.1", {"templates/deployment.yaml": heavy.replace(
        "requests: {cpu: 1, memory: 32Mi}", "requests: {cpu: 1, memory: 32Mi}\n            limits: {cpu: 1}")})
    assert _plan(dev, sm, fitting, {})["valid"] is True


# ---------------------------------------------------------------------------- schema and docs


def test_plan_and_drift_responses_match_the_schema_and_the_docs(admin_api: APIClient, sandbox: Any,
                                                                  driver: Driver) -> None:
    _workspace, (sm,), developer, version = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    dev = api_for(developer)
    plan = _plan(dev, sm, version, {})
    created = dev.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop", "package_version": version.pk,
                                                  "values": {}}, format="json")
    release = Release.objects.get(pk=created.json()["id"])
    driver.run(until=lambda: release_state(release) == ("deployed", 1))
    drift = result(dev, dev.get(f"/api/catalog/releases/{release.pk}/drift/"))
    docs = (Path(__file__).resolve().parents[2] / "docs" / "catalog-api.md").read_text()
    section = docs[docs.index("## Releases"):]
    section = section[:section.index("\n## ", 1)]
    for body, serializer in ((plan, s.PlanSerializer()), (drift, s.DriftSerializer())):
        assert set(body) == set(serializer.fields), type(serializer).__name__
        for key in body:
            assert f'"{key}"' in section, f"{key} is not documented in docs/catalog-api.md"
