"""The release writes' contract beside the deploy itself (issue 12): who may is checked when the
intent is created (and what the revision may contain is decided then), a report that arrives
twice or late changes nothing it should not, a broker that refuses the task after commit does not
undo or fail the write, and a rollout target the writes refuse fails with the refusal's words."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from catalog import deploy, releases, rollouts
from catalog.models import Release, Revision
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as _state
from catalog.tests.helpers import setup_service_maps as _setup
from portal.celery import app as celery_app
from portal.errors import Conflict, Forbidden, Invalid
from portal.models import AuditRecord
from portal.testing import make_user
from workspaces.models import ApplyStatus, Membership, Role, ServiceMap

pytestmark = pytest.mark.django_db(transaction=True)


def test_grants_checked_and_scope_decided_at_creation(admin_api: APIClient, admin_user: Any, sandbox: Any,
                                                      driver: Driver) -> None:
    workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    viewer = make_user(f"viewer-{workspace.pk}")
    Membership.objects.create(workspace=workspace, user=viewer, role=Role.objects.get(key="viewer"))
    with pytest.raises(Forbidden) as refused:
        releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=viewer,
                                request=None)
    assert refused.value.code == "grant_missing"
    assert refused.value.params == {"workspace": workspace.name, "grant": "workloads.deploy"}
    assert not Release.objects.filter(service_map=sm).exists()

    api = APIClient()
    api.force_authenticate(viewer)
    response = api.post("/api/catalog/releases/", {"service_map": sm.pk, "name": "shop",
                                                   "package_version": version.pk, "values": {}}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "grant_missing"

    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    assert Revision.objects.get(release=release, number=1).allow_cluster_scoped is False
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    release = releases.upgrade_release(release=release, version=None, values={"message": "v2"}, strategy=None,
                                       user=admin_user, request=None)
    assert Revision.objects.get(release=release, number=2).allow_cluster_scoped is True


def test_a_report_twice_or_late_changes_nothing_it_should_not(admin_api: APIClient, sandbox: Any,
                                                              driver: Driver) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))
    release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={}, user=developer,
                                      request=None)
    driver.run(until=lambda: _state(release) == ("deployed", 1))
    driver.queue.clear()
    audits = AuditRecord.objects.count()
    first = Revision.objects.get(release=release, number=1)
    # a second watch of the same revision reports the finish again: nothing is written
    releases.finish_revision(release, first, "failed", "late and wrong")
    first.refresh_from_db()
    release.refresh_from_db()
    assert (first.status, release.status, release.deployed_revision) == ("deployed", "deployed", 1)
    assert AuditRecord.objects.count() == audits

    # a revision that is no longer the release's current one cannot become the deployed one
    release = releases.upgrade_release(release=release, version=None, values={"message": "v2"}, strategy=None,
                                       user=developer, request=None)
    second = Revision.objects.get(release=release, number=2)
    Release.objects.filter(pk=release.pk).update(revision=3)  # as if revision 3 had been asked for meanwhile
    releases.finish_revision(release, second, "deployed", "All objects are ready.")
    second.refresh_from_db()
    assert second.status == "superseded"
    assert second.message_code == "revision_finished"
    assert second.message_params == {"number": 2, "status": "superseded",
                                      "message": "Superseded by revision 3 before it finished."}
    release.refresh_from_db()
    assert (release.status, release.deployed_revision) == ("pending", 1)
    assert [r.number for r in Revision.objects.filter(release=release, status="deployed")] == [1]


def test_a_broker_refusing_the_task_after_commit_loses_nothing(admin_api: APIClient, sandbox: Any,
                                                               driver: Driver, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    _workspace, (sm,), developer, version = _setup(admin_api, sandbox, ("cluster-1",))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker is away")

    with monkeypatch.context() as patched:
        patched.setattr(celery_app, "send_task", refuse)
        release = releases.create_release(sm=sm, name="shop", version=version, values={}, strategy={},
                                          user=developer, request=None)
    assert _state(release) == ("pending", 0)
    assert not driver.queue
    # the beat task picks the stored intent up
    with override_settings(PORTAL_DEPLOY_RETRY_SECONDS=0):
        assert (release.pk, 1, "deploy") in deploy.due_revisions(stale_after=0)


def test_a_rollout_target_is_started_with_what_was_decided_at_creation(admin_api: APIClient, sandbox: Any,
                                                                        driver: Driver) -> None:
    """The grant was checked when the rollout was created: the task that starts its later waves
    decides no permission (issue 12), so a membership change meanwhile does not stop it; what the
    task still refuses (the service map being deleted) fails the target with the refusal's words."""
    workspace, (sm, other), developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2"))
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk}, {"service_map": other.pk}], canary=None,
                                      batch_size=1, max_failures=0, user=developer, request=None)
    assert rollout.allow_cluster_scoped is False  # a developer asked
    Membership.objects.filter(workspace=workspace, user=developer).delete()  # before the second wave starts
    ServiceMap.objects.filter(pk=other.pk).update(status=ApplyStatus.DELETING)
    driver.run(until=lambda: not rollout.targets.filter(state="pending").exists()
               and not rollout.targets.filter(state="applying", release__isnull=True).exists(), timeout=90)
    started = rollout.targets.get(service_map=sm)
    assert started.state == "healthy", started.reason
    assert started.release is not None
    assert started.release.created_by == developer
    refused = rollout.targets.get(service_map=other)
    assert (refused.state, refused.reason) == ("failed", f"Service map {other.namespace} is being deleted.")
    assert rollouts.advance(rollout.pk) == "failed"  # the next advance (the beat task's) stops it
    rollout.refresh_from_db()
    assert (rollout.status, rollout.message_code, rollout.message_params) == ("failed", "rollout_stopped", {
        "count": 1, "namespaces": other.namespace})


def test_a_rollout_stores_its_first_wave_from_the_request_renders(admin_api: APIClient, sandbox: Any,
                                                                   driver: Driver, monkeypatch: Any) -> None:
    """The request renders and checks every target; the first wave's releases are stored from those
    renders with the rollout (their deploys queued at commit), the later waves' are not. A target
    whose release cannot change now (a revision still deploying) is refused by name, nothing stored."""
    from catalog import helm
    from catalog.models import RolloutTarget

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2", "cluster-3"))
    renders: list[str] = []
    render = helm.render

    def counted(*args: Any, **kwargs: Any) -> Any:
        renders.append(kwargs["namespace"])
        return render(*args, **kwargs)

    monkeypatch.setattr(helm, "render", counted)
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk} for sm in maps], canary=maps[0].pk,
                                      batch_size=5, max_failures=0, user=developer, request=None)
    assert renders == [sm.namespace for sm in maps]  # once each
    canary = rollout.targets.get(service_map=maps[0])
    assert (canary.wave, canary.state, canary.revision, canary.attempts) == (0, "applying", 1, 1)
    assert canary.release is not None
    assert canary.release.created_by == developer
    assert Revision.objects.get(release=canary.release, number=1).status == "pending"
    assert [(t.wave, t.state, t.release_id) for t in rollout.targets.exclude(pk=canary.pk).order_by("wave")] == [
        (1, "pending", None), (1, "pending", None)]
    queued = [(task.name, args) for task, args in driver.queue]
    assert ("catalog.deploy_revision", (canary.release.pk, 1)) in queued
    assert Release.objects.filter(name="shop").count() == 1

    # The canary's revision is still deploying: a second rollout naming it is refused, nothing stored.
    before = (Release.objects.count(), Revision.objects.count(), RolloutTarget.objects.count())
    Revision.objects.filter(release=canary.release, number=1).update(status="applying")
    with pytest.raises(Invalid) as refused:
        rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                targets=[{"service_map": maps[1].pk}, {"service_map": maps[0].pk}], canary=None,
                                batch_size=5, max_failures=0, user=developer, request=None)
    assert list(refused.value.errors) == ["targets.1.service_map"]
    assert "still deploying" in refused.value.errors["targets.1.service_map"][0]
    assert (Release.objects.count(), Revision.objects.count(), RolloutTarget.objects.count()) == before


def test_a_rollout_asks_the_image_hooks_once_and_audits_every_target(admin_api: APIClient, sandbox: Any,
                                                                      driver: Driver, monkeypatch: Any) -> None:
    """The image gate and the pull secrets read only the workspace's policy, registries and
    allocations: a rollout's request asks each once for all its targets (same images), and
    every stored target still has its install audited (written in one INSERT)."""
    from catalog import image_hooks

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2", "cluster-3"))
    asked: list[str] = []
    gate, names, _ensure = image_hooks.registered()

    def counted_gate(user: Any, sm: Any, images: list[str]) -> list[str]:
        asked.append("gate")
        return [] if gate is None else list(gate(user, sm, images))

    def counted_names(sm: Any, images: list[str]) -> dict[str, str]:
        asked.append("names")
        return {} if names is None else names(sm, images)

    monkeypatch.setattr(image_hooks, "_gate", counted_gate)
    monkeypatch.setattr(image_hooks, "_names", counted_names)
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk} for sm in maps], canary=None,
                                      batch_size=5, max_failures=0, user=developer, request=None)
    assert sorted(asked) == ["gate", "names"]
    stored = set(rollout.targets.values_list("release_id", flat=True))
    assert len(stored) == 3
    assert set(AuditRecord.objects.filter(action="release.install").values_list("target_id", flat=True)) == {
        str(pk) for pk in stored}
    image_hooks.gate(developer, maps[0], [{"kind": "Pod", "spec": {"containers": [{"image": "x/y:1"}]}}])
    assert asked.count("gate") == 2  # outside a rollout's request, asked each time


def test_a_wave_stored_with_its_rollout_queues_every_deploy_before_publishing_rows(
        admin_api: APIClient, sandbox: Any, driver: Driver, monkeypatch: Any) -> None:
    """Building a release's row takes queries: the rows go out after every deploy of the wave is
    queued, so the last target's deploy does not wait for the others' rows (built in one query)."""
    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2", "cluster-3"))
    queued_at_publish: list[int] = []
    publish = releases.publish

    def counted(group: str, event_type: str, data: dict[str, Any]) -> None:
        if event_type == "release.updated":
            queued_at_publish.append(sum(task.name == "catalog.deploy_revision" for task, _ in driver.queue))
        publish(group, event_type, data)

    monkeypatch.setattr(releases, "publish", counted)
    rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                            targets=[{"service_map": sm.pk} for sm in maps], canary=None, batch_size=5,
                            max_failures=0, user=developer, request=None)
    assert queued_at_publish == [3, 3, 3]


def test_a_running_rollouts_row_is_published_by_one_queued_task_not_by_every_advance(
        admin_api: APIClient, sandbox: Any, driver: Driver, monkeypatch: Any) -> None:
    """The row holds every target and a wave of N targets moves N times: while the rollout runs,
    an advance queues ``catalog.publish_rollout`` (coalesced, :data:`rollouts.PUBLISH_DELAY` later)
    instead of building the row itself; the task builds it when it runs, so it carries the last
    state, and the rollout's end is published too."""
    from catalog import tasks_deploy

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2"))
    rows: list[tuple[int, str, list[str]]] = []
    publish = rollouts.publish

    def heard(group: str, event_type: str, data: dict[str, Any]) -> None:
        if event_type == "rollout.updated":
            rows.append((data["id"], data["status"], [t["state"] for t in data["targets"]]))
        publish(group, event_type, data)

    monkeypatch.setattr(rollouts, "publish", heard)
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk} for sm in maps], canary=None, batch_size=5,
                                      max_failures=0, user=developer, request=None)
    assert rollouts.advance(rollout.pk) in ("wave 1 in progress", "waiting for clusters")
    assert rows == []  # not built by the advance
    queued = [args for task, args in driver.queue if task is tasks_deploy.publish_rollout]
    assert queued == [(rollout.pk,)]
    assert tasks_deploy.publish_rollout.run(rollout.pk) == "published"
    assert [(pk, status) for pk, status, _ in rows] == [(rollout.pk, "running")]
    driver.run(until=lambda: rollouts.Rollout.objects.get(pk=rollout.pk).status == "succeeded", timeout=90)
    driver.run()  # what the last steps queued
    assert rows[-1] == (rollout.pk, "succeeded", ["healthy", "healthy"])
    assert tasks_deploy.publish_rollout.run(10**9) == "gone"


def test_the_rows_of_releases_deploys_move_are_published_together_by_one_queued_task(
        admin_api: APIClient, sandbox: Any, driver: Driver, monkeypatch: Any) -> None:
    """A deploy's start and end queue ``catalog.publish_release_rows`` (coalesced,
    :data:`releases.ROWS_DELAY` later) instead of building the release's row themselves: the task
    publishes every release due from one query, each row as it is when the task runs, so the
    last state (deployed) is what goes out; the revision's own event still goes at once."""
    from catalog import tasks_deploy

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2"))
    heard: list[tuple[str, int, str]] = []
    publish = releases.publish

    def counted(group: str, event_type: str, data: dict[str, Any]) -> None:
        if event_type in ("release.updated", "revision.updated"):
            heard.append((event_type, data["id"] if event_type == "release.updated" else data["release"],
                          data["status"]))
        publish(group, event_type, data)

    monkeypatch.setattr(releases, "publish", counted)
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk} for sm in maps], canary=None, batch_size=5,
                                      max_failures=0, user=developer, request=None)
    ids = sorted(rollout.targets.values_list("release_id", flat=True))
    heard.clear()
    for task, args in [item for item in driver.queue if item[0] is tasks_deploy.deploy_revision]:
        driver.queue.remove((task, args))
        task.run(*args)
    assert "release.updated" not in {kind for kind, _, _ in heard}  # queued, not built by the deploys
    assert sorted(pk for kind, pk, status in heard if kind == "revision.updated" and status == "applying") == ids
    queued = [args for task, args in driver.queue if task is tasks_deploy.publish_release_rows]
    assert queued == [(), ()]  # one per commit here: the driver does not coalesce (Redis does, per key)
    driver.queue = type(driver.queue)(item for item in driver.queue if item[0] is not tasks_deploy.publish_release_rows)
    with CaptureQueriesContext(connection) as captured:
        assert tasks_deploy.publish_release_rows.run() == 2
    assert len(captured.captured_queries) == 1
    assert sorted(pk for kind, pk, _ in heard if kind == "release.updated") == ids
    assert tasks_deploy.publish_release_rows.run() == 0  # nothing due any more
    driver.run(until=lambda: rollouts.Rollout.objects.get(pk=rollout.pk).status == "succeeded", timeout=90)
    driver.run()  # what the last steps queued, the rows' task among them
    last = {pk: status for kind, pk, status in heard if kind == "release.updated"}
    assert last == dict.fromkeys(ids, "deployed")


def test_a_target_that_starts_rolling_out_advances_its_rollout_a_moment_later(
        admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    """A target whose revision was applied changes only the ledger's words (applying -> rolling
    out): its deploy queues the unhurried advance (``soon``, its own coalescing key,
    :data:`releases.ADVANCE_SOON_DELAY` later), so a wave applied together advances once; a
    target that finished queues the advance at once, and the rollout ends."""
    from catalog import tasks_deploy
    from catalog.models import Rollout, RolloutTarget

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2"))
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk} for sm in maps], canary=None, batch_size=5,
                                      max_failures=0, user=developer, request=None)
    driver.queue = type(driver.queue)(item for item in driver.queue if item[0] is not tasks_deploy.advance_rollout)
    for task, args in [item for item in driver.queue if item[0] is tasks_deploy.deploy_revision]:
        driver.queue.remove((task, args))
        assert task.run(*args) in ("watching", "polling")
    advances = [args for task, args in driver.queue if task is tasks_deploy.advance_rollout]
    assert advances
    assert set(advances) == {(rollout.pk, True)}
    assert set(RolloutTarget.objects.filter(rollout=rollout).values_list("state", flat=True)) == {"applying"}
    assert tasks_deploy.advance_rollout.run(rollout.pk, True) == "wave 1 in progress"
    assert set(RolloutTarget.objects.filter(rollout=rollout).values_list("state", flat=True)) == {"progressing"}
    driver.queue = type(driver.queue)(item for item in driver.queue if item[0] is not tasks_deploy.advance_rollout)
    driver.run(until=lambda: Rollout.objects.get(pk=rollout.pk).status == "succeeded", timeout=90)


def test_a_target_that_finishes_before_the_rest_of_its_wave_advances_later_the_last_at_once(
        admin_api: APIClient, sandbox: Any, driver: Driver) -> None:
    """A deployed target whose wave still has unfinished targets changes only the ledger: its
    advance waits (``soon``) with the wave's other steps; the wave's last one advances at once,
    and that advance ends the rollout."""
    from catalog import tasks_deploy
    from catalog.models import RevisionStatus, Rollout

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2"))
    rollout = rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                      targets=[{"service_map": sm.pk} for sm in maps], canary=None, batch_size=5,
                                      max_failures=0, user=developer, request=None)
    for task, args in [item for item in driver.queue if item[0] is tasks_deploy.deploy_revision]:
        driver.queue.remove((task, args))
        task.run(*args)
    driver.queue.clear()
    first, last = (Release.objects.get(service_map=sm, name="shop") for sm in maps)

    def finish(release: Release) -> list[tuple[Any, ...]]:
        revision = Revision.objects.get(release=release, number=release.revision)
        assert revision.status == RevisionStatus.PROGRESSING
        releases.finish_revision(release, revision, RevisionStatus.DEPLOYED, "All objects are ready.")
        advances = [args for task, args in driver.queue if task is tasks_deploy.advance_rollout]
        driver.queue.clear()
        return advances

    assert finish(first) == [(rollout.pk, True)]  # the other target still rolls out
    assert finish(last) == [(rollout.pk,)]  # the wave's last: at once
    assert tasks_deploy.advance_rollout.run(rollout.pk) == "succeeded"
    assert Rollout.objects.get(pk=rollout.pk).status == "succeeded"


def test_a_release_created_after_the_plan_refuses_the_wave_and_nothing_is_stored(
        admin_api: APIClient, sandbox: Any, driver: Driver, monkeypatch: Any) -> None:
    """The wave's installs are stored in one INSERT each for releases and revisions
    (``releases.store_wave``): a release of that name created in one of the service maps after the
    request read them (another request, at the same moment) is refused by the unique constraint,
    a 409 that says what to do, and the rollout, its ledger and the other targets' releases are
    not written."""
    from catalog.models import Rollout, RolloutTarget

    workspace, maps, developer, version = _setup(admin_api, sandbox, ("cluster-1", "cluster-2"))
    plan_install = releases.plan_install

    def raced(**kwargs: Any) -> Any:
        planned = plan_install(**kwargs)
        if kwargs["sm"] == maps[1]:  # another request installs it now
            Release.objects.create(workspace=workspace, service_map=maps[1], name=kwargs["name"], package_version=version)
        return planned

    monkeypatch.setattr(releases, "plan_install", raced)
    before = (Rollout.objects.count(), RolloutTarget.objects.count(), Revision.objects.count())
    with pytest.raises(Conflict) as refused:
        rollouts.create_rollout(workspace=workspace, release_name="shop", version=version, values={},
                                targets=[{"service_map": sm.pk} for sm in maps], canary=None,
                                batch_size=5, max_failures=0, user=developer, request=None)
    assert "reload and retry" in str(refused.value)
    assert (Rollout.objects.count(), RolloutTarget.objects.count(), Revision.objects.count()) == before
    assert list(Release.objects.filter(name="shop").values_list("service_map_id", flat=True)) == [maps[1].pk]
    assert not [args for task, args in driver.queue if task.name == "catalog.deploy_revision"]
