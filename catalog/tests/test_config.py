"""ConfigMaps, Secrets and autoscalers of a service map through the API, against a sandbox
cluster: versions, restore, restarting the workloads that use a config, secret values write-only
without ``secrets.reveal``, HPA settings, and 404 for outsiders. Every change answers 202 with a
cluster intent that the real Celery worker converges; its outcome is read back from the intent."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from catalog.models import ClusterIntent, ConfigVersion
from catalog.tests.helpers import setup_service_maps
from catalog.tests.intents import result, settle
from clusters.tests.helpers import client_for
from portal.models import AuditRecord
from portal.testing import make_user
from workspaces.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_configs_versions_restart_secrets_and_autoscalers(admin_api: APIClient, sandbox: Any,
                                                          celery_worker_process: Any) -> None:
    workspace, (sm,), developer, _version = setup_service_maps(admin_api, sandbox, ("cluster-1",))
    manager = make_user(f"cfgmgr{sm.pk}")
    Membership.objects.create(workspace=workspace, user=manager, role=Role.objects.get(key="manager"))
    dev, base = api_for(developer), f"/api/catalog/configs/{sm.pk}/"

    created = dev.post(base, {"kind": "ConfigMap", "name": "app-config", "data": {"mode": "blue"}}, format="json")
    assert created.json()["status"] == "pending"  # stored before any cluster call
    assert result(dev, created) == {"version": 1, "restarted": []}
    assert AuditRecord.objects.filter(action="config.save", detail__intent=created.json()["id"]).exists()
    taken = settle(dev, dev.post(base, {"kind": "ConfigMap", "name": "app-config", "data": {"mode": "x"}},
                                 format="json"))
    assert (taken["status"], taken["message_code"]) == ("failed", "config_exists")
    assert taken["message"] == f"ConfigMap app-config exists already in {sm.namespace}; edit it instead."
    # the others of the workspace hear of it, but only who asked reads it back (results may hold secrets)
    assert api_for(manager).get(f"/api/catalog/intents/{taken['id']}/").status_code == 404
    bad = dev.post(base, {"kind": "ConfigMap", "name": "Bad Name", "data": {"k": "v"}}, format="json")
    assert bad.status_code == 400
    assert "name" in bad.json()["errors"]

    with client_for(sandbox, "cluster-1") as kube:  # a workload that reads the config
        kube.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "reader", "namespace": sm.namespace},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "reader"}},
                             "template": {"metadata": {"labels": {"app": "reader"}}, "spec": {"containers": [{
                                 "name": "c", "image": "nginx:1.27",
                                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                                 "envFrom": [{"configMapRef": {"name": "app-config"}}]}]}}}},
                   field_manager="test")

    detail = dev.get(f"{base}ConfigMap/app-config/").json()
    assert detail["data"] == {"mode": "blue"}
    assert detail["used_by"] == ["Deployment/reader"]
    saved = dev.put(f"{base}ConfigMap/app-config/", {"data": {"mode": "green"}, "restart": True}, format="json")
    done = settle(dev, saved)
    assert done["result"] == {"version": 2, "restarted": ["Deployment/reader"]}
    assert (done["message_code"], done["message_params"]["version"]) == ("config_saved", 2)
    with client_for(sandbox, "cluster-1") as kube:
        reader = kube.get_object("Deployment", "reader", sm.namespace)
        assert "kubectl.kubernetes.io/restartedAt" in reader["spec"]["template"]["metadata"]["annotations"]
        assert kube.get_object("ConfigMap", "app-config", sm.namespace)["data"] == {"mode": "green"}
    restored = dev.post(f"{base}ConfigMap/app-config/versions/", {"version": 1}, format="json")
    assert result(dev, restored)["version"] == 3
    assert ConfigVersion.objects.get(service_map=sm, name="app-config", version=3).message_code == "config_restored"
    assert dev.post(f"{base}ConfigMap/app-config/versions/", {"version": 9}, format="json").status_code == 400
    assert dev.get(f"{base}ConfigMap/app-config/").json()["data"] == {"mode": "blue"}
    assert [v["version"] for v in dev.get(f"{base}ConfigMap/app-config/versions/").json()] == [3, 2, 1]

    # Secrets: values are write-only without secrets.reveal, encrypted at rest, null keeps a value.
    secret = dev.post(base, {"kind": "Secret", "name": "db", "data": {"user": "shop", "password": "s3cret"}},
                      format="json")
    assert "s3cret" not in str(secret.content)
    assert result(dev, secret)["version"] == 1
    assert "s3cret" not in ClusterIntent.objects.get(pk=secret.json()["id"]).spec_encrypted  # encrypted at rest
    hidden = dev.get(f"{base}Secret/db/").json()
    assert hidden["data"] == {"password": None, "user": None}
    assert "s3cret" not in str(hidden)
    assert dev.get(f"{base}Secret/db/?reveal=true").status_code == 403
    assert result(dev, dev.put(f"{base}Secret/db/", {"data": {"user": "shop2", "password": None}},
                               format="json"))["version"] == 2
    revealed = api_for(manager).get(f"{base}Secret/db/?reveal=true").json()
    assert revealed["data"] == {"password": "s3cret", "user": "shop2"}
    stored = ConfigVersion.objects.get(service_map=sm, kind="Secret", name="db", version=2)
    assert stored.data == {}
    assert "s3cret" not in stored.data_encrypted
    assert stored.get_secret_data()["password"] == "s3cret"
    keep_unknown = settle(dev, dev.put(f"{base}Secret/db/", {"data": {"token": None}}, format="json"))
    assert (keep_unknown["status"], keep_unknown["message_code"]) == ("failed", "secret_value_missing")
    assert "data.token" in keep_unknown["errors"]

    # Autoscaler settings.
    hpa = dev.put(f"/api/catalog/autoscalers/{sm.pk}/Deployment/reader/",
                  {"min_replicas": 1, "max_replicas": 4, "cpu_percent": 70}, format="json")
    assert result(dev, hpa)["max_replicas"] == 4
    with client_for(sandbox, "cluster-1") as kube:
        live = kube.get_object("HorizontalPodAutoscaler", "reader", sm.namespace)
        assert live["spec"]["maxReplicas"] == 4
    wrong = dev.put(f"/api/catalog/autoscalers/{sm.pk}/Deployment/reader/",
                    {"min_replicas": 5, "max_replicas": 2, "cpu_percent": 70}, format="json")
    assert wrong.status_code == 400
    assert "max_replicas" in wrong.json()["errors"]
    missing = settle(dev, dev.put(f"/api/catalog/autoscalers/{sm.pk}/Deployment/nobody/",
                                  {"max_replicas": 2, "cpu_percent": 70}, format="json"))
    assert (missing["status"], missing["message_code"]) == ("failed", "workload_not_found")
    assert "name" in missing["errors"]
    assert settle(dev, dev.delete(f"/api/catalog/autoscalers/{sm.pk}/Deployment/reader/"))["status"] == "succeeded"
    with client_for(sandbox, "cluster-1") as kube:
        assert not [h for h in kube.list_objects("HorizontalPodAutoscaler", sm.namespace)
                    if h["metadata"]["name"] == "reader"]
    gone = settle(dev, dev.delete(f"{base}ConfigMap/nothing-here/"))
    assert (gone["status"], gone["message_code"]) == ("failed", "config_not_found")

    # Outsiders see nothing; viewers may read but not write.
    outsider = api_for(make_user(f"cfgout{sm.pk}"))
    assert outsider.get(base).status_code == 404
    assert outsider.get(f"{base}ConfigMap/app-config/").status_code == 404
    viewer = make_user(f"cfgview{sm.pk}")
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.objects.get(key="viewer"))
    assert api_for(viewer).get(base).status_code == 200
    assert api_for(viewer).put(f"{base}ConfigMap/app-config/", {"data": {"mode": "x"}},
                               format="json").status_code == 403
