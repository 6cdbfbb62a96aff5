"""Releases against real sandbox clusters: install, upgrade with new values (pruning what the
new revision lacks), roll back, refuse what must not be applied, converge after a deploy killed
halfway, serialise two deploys of one release, and a rollout to three clusters in waves with one
cluster blackholed (it stays pending; the others go healthy; it completes after it returns).

The Celery tasks run synchronously through :class:`Driver` (the same task functions, called in
order), so each step can be looked at; the worker path is the same code.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from catalog import deploy, releases, rollouts, tasks_deploy
from catalog.models import Release, Revision, Rollout
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as _state
from catalog.tests.helpers import setup_service_maps as _setup
from clusters.kube.errors import NotFound
from clusters.tests.helpers import client_for
from portal.errors import Conflict, Invalid

pytestmark = pytest.mark.django_db(transaction=True)

def test_install_upgrade_prune_rollback(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    with client_for(sandbox, "cluster-1") as kube:
        deployment = kube.get_object("Deployment", "shop-web", sm.namespace)
        assert deployment["metadata"]["labels"][deploy.RELEASE_LABEL] == str(release.pk)
        kube.get_object("Service", "shop-web", sm.namespace)
        assert kube.get_object("ConfigMap", "shop-config", sm.namespace)["data"]["message"] == "hello"
    first = Revision.objects.get(release=release, number=1)
    assert first.progress["Deployment/shop-web"]["state"] == "ready"

    # Upgrade: new values, and the Service is no longer rendered: it is pruned.
    release = releases.upgrade_release(release=release, version=None,
                                       values={"replicas": 2, "message": "v2", "service": {"enabled": False}},
                                       strategy=None, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 2))
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.get_object("ConfigMap", "shop-config", sm.namespace)["data"]["message"] == "v2"
        assert kube.get_object("Deployment", "shop-web", sm.namespace)["spec"]["replicas"] == 2
        with pytest.raises(NotFound):
            kube.get_object("Service", "shop-web", sm.namespace)
    assert Revision.objects.get(release=release, number=1).status == "superseded"

    # Roll back to revision 1: a new revision with revision 1's manifest.
    release = releases.rollback_release(release=release, to=1, user=developer, request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 3))
    third = Revision.objects.get(release=release, number=3)
    assert (third.action, third.rollback_of) == ("rollback", 1)
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.get_object("ConfigMap", "shop-config", sm.namespace)["data"]["message"] == "hello"
        kube.get_object("Service", "shop-web", sm.namespace)
    assert "v2" in deploy.revision_diff(Revision.objects.get(release=release, number=2).manifest, third.manifest,
                                        label_a="2", label_b="3")
    assert deploy.drift(release)["objects"] == []
    with client_for(sandbox, "cluster-1") as kube:  # someone edits the config in the cluster
        kube.apply({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "shop-config", "namespace": sm.namespace}, "data": {"message": "hacked"}},
                   field_manager="kubectl-edit")
    assert deploy.drift(release)["objects"] == ["ConfigMap/shop-config"]


def test_bad_input_applies_nothing(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    with pytest.raises(Invalid) as schema:
        releases.create_release(sm=sm, name="shop", version=version, values={"replicas": "three"}, strategy={},
                                user=developer, request=None)
    assert "values.replicas" in str(schema.value.errors)
    with pytest.raises(Invalid) as image:
        releases.create_release(sm=sm, name="shop", version=version, values={"image": "Not An Image!"}, strategy={},
                                user=developer, request=None)
    assert "invalid image reference" in str(image.value.errors)
    with pytest.raises(Invalid) as quota:
        releases.create_release(sm=sm, name="shop", version=version, values={"replicas": 11}, strategy={},
                                user=developer, request=None)
    assert "pods" in str(quota.value.errors)
    assert isinstance(quota.value, releases.QuotaExceeded)
    assert quota.value.preflight["fits"] is False  # the figures the plan shows
    other_ns = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"}}]
    with pytest.raises(Invalid, match="targets namespace kube-system"):
        releases.check(sm=sm, objects=other_ns, user=developer)
    cluster_scoped = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                       "metadata": {"name": "x"}}]
    with pytest.raises(Invalid, match="cluster-scoped"):
        releases.check(sm=sm, objects=cluster_scoped, user=developer)
    assert not Release.objects.exists()
    assert not driver.queue


def test_killed_deploy_converges_and_deploys_are_serialised(admin_api: APIClient, sandbox: Any,
                                                            driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    # A worker died right after it started: the revision says "applying" and only part is applied.
    revision = Revision.objects.get(release=release, number=1)
    releases.revision_started(release, revision)
    with client_for(sandbox, "cluster-1") as kube:
        kube.apply(deploy.load(revision.manifest)[0], field_manager=deploy.FIELD_MANAGER)
    with pytest.raises(Conflict, match="still deploying"):
        releases.upgrade_release(release=release, version=None, values={"replicas": 2}, strategy=None,
                                 user=developer, request=None)

    # Another worker holds the release: this one backs off.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [7031, release.pk])
        assert deploy.deploy_revision(release.pk, 1) == "busy"
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [7031, release.pk])
    finally:
        other.close()

    # The beat task picks the stuck revision up again, and it converges.
    from django.test import override_settings

    driver.queue.clear()
    with override_settings(PORTAL_DEPLOY_RETRY_SECONDS=0):
        assert tasks_deploy.reconcile_releases.run() >= 1
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    with client_for(sandbox, "cluster-1") as kube:
        assert len(kube.list_objects("ConfigMap", sm.namespace, label_selector=f"{deploy.RELEASE_LABEL}={release.pk}")
                   ) == 1


def test_rollout_in_waves_with_a_blackholed_cluster(admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    from django.test import override_settings

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2", "cluster-3"))
    canary, second, dark = maps
    sandbox.inject_fault("cluster-3", blackhole=True)
    rollout = rollouts.create_rollout(
        workspace=workspace, release_name="shop", version=version, values={"message": "fleet"},
        targets=[{"service_map": sm.pk, "overrides": {"message": "canary"} if sm is canary else {}} for sm in maps],
        canary=canary.pk, batch_size=5, max_failures=0, user=developer, request=None)
    waves = {t.service_map_id: t.wave for t in rollout.targets.all()}
    assert waves == {canary.pk: 0, second.pk: 1, dark.pk: 1}

    def ledger() -> dict[int, str]:
        return {t.service_map_id: t.state for t in rollout.targets.all()}

    driver.run(until=lambda: ledger()[second.pk] == "healthy" and ledger()[dark.pk] == "pending", timeout=90)
    rollout.refresh_from_db()
    assert rollout.status == "running"
    assert ledger()[canary.pk] == "healthy"
    dark_target = rollout.targets.get(service_map=dark)
    assert "Waiting for the cluster" in dark_target.reason
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.get_object("ConfigMap", "shop-config", canary.namespace)["data"]["message"] == "canary"

    sandbox.clear_faults("cluster-3")
    with override_settings(PORTAL_DEPLOY_RETRY_SECONDS=0):
        tasks_deploy.reconcile_releases.run()
    driver.run(until=lambda: Rollout.objects.get(pk=rollout.pk).status == "succeeded", timeout=90)
    assert set(ledger().values()) == {"healthy"}
    with client_for(sandbox, "cluster-3") as kube:
        assert kube.get_object("ConfigMap", "shop-config", dark.namespace)["data"]["message"] == "fleet"


@pytest.mark.parametrize("refused_at", [0, 2])
def test_a_manifest_the_cluster_refuses_leaves_nothing_applied(admin_api: APIClient, sandbox: Any, driver: Driver,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               refused_at: int) -> None:
    """Three objects, one the API server refuses (a name that is no RFC 1123 subdomain): first
    (its own apply is the first write, so it needs no dry-run) or last (refused at its dry-run,
    before anything is written). Either way nothing is applied, the revision fails as refused,
    and the deploy sent one dry-run fewer than there are objects."""
    from catalog.manifests import dump, load
    from clusters.kube.client import KubeClient

    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    revision = Revision.objects.get(release=release, number=1)
    good = load(revision.manifest)
    bad = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "Not_A_Name", "namespace": sm.namespace,
                        "labels": {deploy.RELEASE_LABEL: str(release.pk)}}, "data": {"a": "b"}}
    objects = [o for o in good if o["kind"] != "Deployment"][:2]
    objects.insert(refused_at, bad)
    assert len(objects) == 3
    Revision.objects.filter(pk=revision.pk).update(manifest=dump(objects))

    calls: list[tuple[str, bool]] = []
    apply = KubeClient.apply

    def counted(self: KubeClient, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        calls.append((obj["metadata"]["name"], bool(kwargs.get("dry_run"))))
        return apply(self, obj, **kwargs)

    monkeypatch.setattr(KubeClient, "apply", counted)
    driver.queue.clear()
    assert deploy.deploy_revision(release.pk, 1) == "failed"

    revision.refresh_from_db()
    assert revision.status == "failed"
    assert revision.message_code == "deploy_refused"
    assert "nothing was applied" in revision.message
    assert sum(1 for _name, dry in calls if dry) == len(objects) - 1
    with client_for(sandbox, "cluster-1") as kube:
        assert kube.list_objects("ConfigMap", sm.namespace,
                                 label_selector=f"{deploy.RELEASE_LABEL}={release.pk}") == []
        assert kube.list_objects("Service", sm.namespace,
                                 label_selector=f"{deploy.RELEASE_LABEL}={release.pk}") == []
