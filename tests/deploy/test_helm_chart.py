"""The portal's own Helm chart (``deploy/helm/portal``, issue 18 "Operations"), rendered by the Helm
engine the catalog uses (``helm-python-sdk`` in :mod:`catalog.helm`'s spawn pool): the objects and
what they run (Procfile commands, probes, the migration hook), that no secret value leaves the
Secrets, that ``values.schema.json`` rejects bad values (Helm validates values against it before
rendering), ``helm lint --strict`` from the same engine, and every rendered object (hooks included)
applied to a sandbox cluster with server-side dry-run through :class:`clusters.kube.client.KubeClient`."""

from __future__ import annotations

import base64
import copy
import json
import os
from typing import Any

import pytest

from catalog import helm
from clusters.kube.errors import KubeError
from clusters.tests.helpers import client_for
from portal.testing import unique
from tests.deploy import helpers as helm_engine

SECRET_KEY = "sk-" + "Q" * 45
ENCRYPTION_KEYS = "k2:" + base64.b64encode(os.urandom(32)).decode() + ",k1:" + base64.b64encode(os.urandom(32)).decode()
DB_PASSWORD = "db-pass-Zx81q"
REDIS_PASSWORD = "redis-pass-Yw72p"
METRICS_TOKEN = "metrics-token-Vu63o"
PG_BUNDLED_PASSWORD = "bundled-pg-Tt54n"

VALUES: dict[str, Any] = {
    "allowedHosts": ["portal.example.com"],
    "csrfTrustedOrigins": ["https://portal.example.com"],
    "secrets": {"secretKey": SECRET_KEY, "encryptionKeys": ENCRYPTION_KEYS, "metricsToken": METRICS_TOKEN},
    "database": {"url": f"postgres://portal:{DB_PASSWORD}@db.example.com:5432/portal"},
    "redis": {"url": f"redis://:{REDIS_PASSWORD}@redis.example.com:6379/0"},
    "ingress": {"enabled": True, "className": "nginx", "host": "portal.example.com", "tlsSecretName": "portal-tls"},
}
BUNDLED: dict[str, Any] = {
    "allowedHosts": ["portal.example.com"],
    "secrets": {"secretKey": SECRET_KEY, "encryptionKeys": ENCRYPTION_KEYS},
    "postgresql": {"bundled": {"enabled": True, "password": PG_BUNDLED_PASSWORD}},
    "redis": {"bundled": {"enabled": True}},
}
EXISTING: dict[str, Any] = {"allowedHosts": ["portal.example.com"], "secrets": {"existingSecret": "portal-keys"}}
SECRET_VALUES = [SECRET_KEY, *(k.split(":", 1)[1] for k in ENCRYPTION_KEYS.split(",")), DB_PASSWORD, REDIS_PASSWORD,
                 METRICS_TOKEN, PG_BUNDLED_PASSWORD]


@pytest.fixture(scope="module")
def chart() -> bytes:
    return helm_engine.archive()


def _render(chart: bytes, values: dict[str, Any], namespace: str = "portal-ops", **kw: Any) -> list[dict[str, Any]]:
    files = helm_engine.render_all(chart, values, release="portal", namespace=namespace, **kw)
    return [doc for path, docs in files.items() if not path.endswith("NOTES.txt") for doc in docs]


def _by(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _hook(obj: dict[str, Any]) -> str | None:
    return (obj["metadata"].get("annotations") or {}).get("helm.sh/hook")


def test_processes_probes_scaling_and_the_migration_hook(chart: bytes) -> None:
    objects = _render(chart, VALUES)
    kinds = {o["kind"] for o in objects}
    assert kinds == {"Deployment", "Service", "Secret", "ServiceAccount", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "NetworkPolicy", "Ingress", "Job"}
    for obj in objects:  # the recommended labels on every object
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "portal"
        assert labels["app.kubernetes.io/instance"] == "portal"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"

    deployments = _by(objects, "Deployment")
    assert set(deployments) == {"portal-web", "portal-worker-control", "portal-worker-deploys", "portal-worker-long",
                                "portal-beat", "portal-watcher"}
    web = _container(deployments["portal-web"])
    assert web["command"][:2] == ["uvicorn", "portal.asgi:application"]  # as the Procfile and Dockerfile
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "Host", "value": "portal.example.com"} in web["readinessProbe"]["httpGet"]["httpHeaders"]
    assert web["resources"]["requests"]["cpu"]
    assert web["resources"]["limits"]["memory"]
    assert deployments["portal-web"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

    queues = {name: _container(d)["command"] for name, d in deployments.items() if "-worker-" in name}
    for name, command in queues.items():
        assert command[:4] == ["celery", "-A", "portal", "worker"]
        assert _container(deployments[name])["livenessProbe"]["exec"]["command"][-1].startswith("celery -A portal inspect ping")
    assert queues["portal-worker-control"][queues["portal-worker-control"].index("-Q") + 1] == "control,beat"
    assert queues["portal-worker-deploys"][queues["portal-worker-deploys"].index("-Q") + 1] == "deploys"
    assert queues["portal-worker-long"][queues["portal-worker-long"].index("-Q") + 1] == "long"

    beat = deployments["portal-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    assert _container(beat)["command"][:4] == ["celery", "-A", "portal", "beat"]
    watcher = deployments["portal-watcher"]
    assert watcher["spec"]["replicas"] == 2
    assert "runwatchers --holder" in _container(watcher)["command"][-1]

    hpas = _by(objects, "HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {
        "portal-web", "portal-worker-control", "portal-worker-deploys"}  # long: autoscaling off by default
    assert all(h["apiVersion"] == "autoscaling/v2" for h in hpas.values())
    assert set(_by(objects, "PodDisruptionBudget")) == {
        "portal-web", "portal-watcher", "portal-worker-control", "portal-worker-deploys"}
    assert "portal-beat" not in {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()}

    policies = _by(objects, "NetworkPolicy")
    assert set(policies) == {"portal-web", "portal-pods"}
    assert policies["portal-pods"]["spec"]["ingress"] == []
    assert set(policies["portal-pods"]["spec"]["policyTypes"]) == {"Ingress", "Egress"}

    job = _by(objects, "Job")["portal-migrate"]
    assert _hook(job) == "pre-install,pre-upgrade"
    assert job["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert _container({"spec": job["spec"]})["command"] == ["python", "manage.py", "migrate", "--no-input"]
    hook_secret = _by(objects, "Secret")["portal-migrate"]  # the release's Secret does not exist yet
    assert _hook(hook_secret) == "pre-install,pre-upgrade"
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"])
    # The catalog's own render path (what a deploy applies) drops the hooks and keeps the rest.
    plain = helm.render(chart, VALUES, release="portal", namespace="portal-ops", kube_version="v1.29.0")
    assert {(o["kind"], o["metadata"]["name"]) for o in plain} == {
        (o["kind"], o["metadata"]["name"]) for o in objects if _hook(o) is None}


def test_no_secret_value_outside_the_secrets(chart: bytes) -> None:
    for values in (VALUES, BUNDLED):
        objects = _render(chart, values)
        secrets = [o for o in objects if o["kind"] == "Secret"]
        assert secrets
        for obj in objects:
            if obj["kind"] == "Secret":
                continue
            text = json.dumps(obj)
            for value in SECRET_VALUES:
                assert value not in text, f"{obj['kind']} {obj['metadata']['name']} holds a secret value"
        for deployment in _by(objects, "Deployment").values():
            env = {e["name"]: e for e in _container(deployment)["env"]}
            for name in ("SECRET_KEY", "PORTAL_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL"):
                assert "value" not in env[name]
                assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "portal"
    main = _by(_render(chart, VALUES), "Secret")["portal"]["stringData"]
    assert main["PORTAL_ENCRYPTION_KEYS"] == ENCRYPTION_KEYS
    assert main["SECRET_KEY"] == SECRET_KEY


def test_existing_secret_and_bundled_databases(chart: bytes) -> None:
    objects = _render(chart, EXISTING | {"database": {"url": "postgres://x@db/portal"}, "redis": {"url": "redis://r"}})
    assert "Secret" not in {o["kind"] for o in objects}  # the operator's own Secret holds everything
    job = _by(objects, "Job")["portal-migrate"]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in _container({"spec": job["spec"]})["env"] if "valueFrom" in e}
    assert refs == {"portal-keys"}
    web = _container(_by(objects, "Deployment")["portal-web"])
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in web["env"] if "secretKeyRef" in e.get("valueFrom", {})} \
        == {"portal-keys"}

    bundled = _render(chart, BUNDLED)
    assert set(_by(bundled, "StatefulSet")) == {"portal-postgresql", "portal-redis"}
    assert _by(bundled, "Secret")["portal"]["stringData"]["DATABASE_URL"] == \
        f"postgres://portal:{PG_BUNDLED_PASSWORD}@portal-postgresql:5432/portal"
    assert _by(bundled, "Secret")["portal"]["stringData"]["REDIS_URL"] == "redis://portal-redis:6379/0"
    # With the bundled PostgreSQL the database starts with the release: migrate after install.
    assert _hook(_by(bundled, "Job")["portal-migrate"]) == "post-install,pre-upgrade"
    assert set(_by(bundled, "NetworkPolicy")) == {"portal-web", "portal-pods", "portal-data"}


def _with(path: str, value: Any, base: dict[str, Any] = VALUES) -> dict[str, Any]:
    values = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return values


@pytest.mark.parametrize(("path", "value", "field"), [
    ("web.replicas", "two", "values.web.replicas"),
    ("web.replicas", 0, "values.web.replicas"),
    ("workers.deploys.concurrency", 0, "values.workers.deploys.concurrency"),
    ("workers.deploys.queues", ["deploys", "nightly"], "values.workers.deploys.queues.1"),
    ("workers.Bad_Name", {}, "values.workers"),
    ("secrets.secretKey", "short", "values.secrets.secretKey"),
    ("secrets.encryptionKeys", "k1:not-base64", "values.secrets.encryptionKeys"),
    ("database.url", "mysql://db/portal", "values.database.url"),
    ("image.pullPolicy", "Sometimes", "values.image.pullPolicy"),
    ("allowedHosts", [], "values.allowedHosts"),
    ("extraEnv.SECRET_KEY", "in-plain-text", "values"),  # "invalid propertyName 'SECRET_KEY'"
    ("web.autoscaling.targetCPUUtilizationPercentage", 500, "values.web.autoscaling.targetCPUUtilizationPercentage"),
    ("web.resources.limits.memory", "lots", "values.web.resources.limits.memory"),
    ("networkPolicy.egressCIDRs", ["everywhere"], "values.networkPolicy.egressCIDRs.0"),
    ("beet", {"enabled": True}, "values"),  # a misspelt key is not silently ignored
    ("postgresql.bundled.enabled", True, "values.postgresql.bundled.password"),  # bundled needs a password
])
def test_schema_rejects_bad_values(chart: bytes, path: str, value: Any, field: str) -> None:
    with pytest.raises(helm.ChartError) as caught:
        helm.render(chart, _with(path, value), release="portal", namespace="portal-ops")
    errors = caught.value.errors
    assert any(key == field or key.startswith(field + ".") for key in errors), errors


def test_cross_value_checks_are_template_errors(chart: bytes) -> None:
    with pytest.raises(helm.ChartError) as caught:
        helm.render(chart, _with("ingress.host", "other.example.com"), release="portal", namespace="portal-ops")
    assert "must be one of allowedHosts" in caught.value.message
    with pytest.raises(helm.ChartError) as caught:
        helm.render(chart, _with("secrets.existingSecret", "portal-keys"), release="portal", namespace="portal-ops")
    assert "not both" in caught.value.message
    with pytest.raises(helm.ChartError) as caught:
        helm.render(chart, _with("database.url", ""), release="portal", namespace="portal-ops")
    assert "database.url is required" in caught.value.message


def test_helm_lint_strict_passes() -> None:
    for values in (VALUES, BUNDLED):
        report = helm_engine.lint(values)
        assert report["total_charts_linted"] == 1
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert problems == [], report
        assert report["errors"] == [], report
    # and lint sees a bad value too (the schema, as `helm lint` applies it)
    report = helm_engine.lint(_with("web.replicas", "two"))
    assert any(m["severity"] == 3 for m in report["messages"]) or report["errors"]


def test_every_object_applies_with_server_side_dry_run(sandbox: Any) -> None:
    namespace = unique("portal-ops")
    client = client_for(sandbox, "cluster-1")
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                 field_manager="portal-chart-test")
    chart = helm_engine.archive()
    applied: set[tuple[str, str]] = set()
    for values in (VALUES, BUNDLED):
        for obj in _render(chart, values, namespace=namespace):
            obj = copy.deepcopy(obj)
            if obj["kind"] not in ("Namespace",):  # Helm leaves metadata.namespace to the client
                obj["metadata"].setdefault("namespace", namespace)
            answer = client.apply(obj, field_manager="helm", dry_run=True)
            assert answer["kind"] == obj["kind"]
            assert answer["metadata"]["name"] == obj["metadata"]["name"]
            applied.add((obj["kind"], obj["metadata"]["name"]))
    assert {kind for kind, _ in applied} >= {"Deployment", "StatefulSet", "Service", "Secret", "ServiceAccount",
                                             "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
                                             "Ingress", "Job"}
    # The server defaulted and validated what it was sent (a dry run is not an echo) ...
    web = next(o for o in _render(chart, VALUES, namespace=namespace) if o["metadata"]["name"] == "portal-web"
               and o["kind"] == "Deployment")
    web["metadata"]["namespace"] = namespace
    assert client.apply(web, field_manager="helm", dry_run=True)["spec"]["progressDeadlineSeconds"] == 600
    broken = copy.deepcopy(web)
    broken["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "other"
    with pytest.raises(KubeError, match="selector"):
        client.apply(broken, field_manager="helm", dry_run=True, attempts=1)
    # ... and persisted nothing.
    with pytest.raises(KubeError):
        client.get_object("Deployment", "portal-web", namespace, api_version="apps/v1", attempts=1)


def test_upgrade_renders_the_same_objects_with_the_migration_first(chart: bytes) -> None:
    install = _render(chart, VALUES)
    upgrade = _render(chart, VALUES, is_upgrade=True)
    assert [(o["kind"], o["metadata"]["name"]) for o in upgrade] == [(o["kind"], o["metadata"]["name"]) for o in install]
    hooks = {o["metadata"]["name"]: _hook(o) for o in upgrade if _hook(o)}
    assert hooks == {"portal-migrate": "pre-install,pre-upgrade"}  # the Secret and the Job, both named -migrate
    assert [o["kind"] for o in upgrade if _hook(o)] == ["Secret", "Job"]
