"""The deploy step and "deploy this image" on a sandbox service map (docs/image-policy.md "Deploy
step"): the release's values get the image pinned by digest (``image.repository`` and
``image.tag = "<tag>@<digest>"``), the rendered Deployment runs ``host/repo:tag@sha256:…``, the run
records the revision, and a repeat makes no second revision; the step acts as the definition's
creator for a webhook's run and is refused without ``workloads.deploy``; the scan gate refuses a
blocked image before any revision; "deploy this image" refuses a digest the registry does not hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from builds import deploy_step, images, policy_actions
from builds.models import BuildDefinition, ImageFormat
from builds.tests.deploy_helpers import CRITICAL, digest_of, hooks_installed, pushed_run, record_scan, stage
from catalog import releases
from catalog.models import Revision
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as state
from clusters.tests.helpers import client_for
from portal.errors import PortalError
from workspaces.models import Membership, Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooks() -> Iterator[None]:
    with hooks_installed():
        yield


def test_the_deploy_step_pins_the_image_by_digest(admin_api: APIClient, sandbox: Any, builtin_registry: Any,
                                                  hooks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = Driver(monkeypatch)
    st = stage(admin_api, sandbox, builtin_registry)
    release = releases.create_release(sm=st.sm, name="web", version=st.version, values={"greeting": "hi"},
                                      strategy={}, user=st.developer, request=None)
    driver.run(until=lambda: state(release) == ("deployed", 1))
    digest = digest_of("build 7")
    run = pushed_run(st, release, tag="1.0.B000007", digest=digest, user=st.developer)

    outcome = deploy_step.deploy(run)
    assert (outcome.state, outcome.revision, outcome.release_id) == ("started", 2, release.pk), outcome
    run.refresh_from_db()
    assert (run.deployed_release_id, run.deployed_revision) == (release.pk, 2)
    release.refresh_from_db()
    assert release.values == {"greeting": "hi", "image": {"repository": st.image(), "tag": f"1.0.B000007@{digest}"}}
    assert deploy_step.deploy(run).state == "started"  # repeated: followed, no second revision
    assert Revision.objects.filter(release=release).count() == 2
    driver.run(until=lambda: state(release) == ("deployed", 2))
    assert deploy_step.follow(run).state == "deployed"
    with client_for(sandbox, "cluster-1") as kube:
        pod = kube.get_object("Deployment", "web-hello", st.sm.namespace)["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == f"{st.image()}:1.0.B000007@{digest}"
    assert images.pinned(pod["containers"][0]["image"])
    assert pod["imagePullSecrets"] == [{"name": "portal-pull-builtin"}]


def test_a_webhook_run_deploys_as_the_creator_and_the_gate_applies(admin_api: APIClient, sandbox: Any,
                                                                   builtin_registry: Any, hooks: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    Driver(monkeypatch)  # nothing reaches the broker
    st = stage(admin_api, sandbox, builtin_registry)
    release = releases.create_release(sm=st.sm, name="web", version=st.version, values={}, strategy={},
                                      user=st.developer, request=None)
    bad = digest_of("bad")
    run = pushed_run(st, release, tag="1.0.B000001", digest=bad, user=None)  # a webhook's run
    # the creator has lost workloads.deploy since: refused, nothing made
    Membership.objects.filter(workspace=st.workspace, user=st.developer).update(
        role=Role.objects.get(key="viewer"))
    with pytest.raises(PortalError) as refused:
        deploy_step.deploy(run)
    assert refused.value.code == "grant_missing"
    Membership.objects.filter(workspace=st.workspace, user=st.developer).update(
        role=Role.objects.get(key="developer"))
    # the scan policy blocks the image: the step fails with the gate's code, no revision
    record_scan(st.registry, st.repository(), bad, [CRITICAL])
    policy_actions.set_policy(workspace=st.workspace, block_severity="CRITICAL", require_scan=False,
                              user=st.manager, request=None)
    with pytest.raises(PortalError) as blocked:
        deploy_step.deploy(run)
    assert blocked.value.code == "image_blocked_by_scan"
    assert "CVE-2024-0001" in blocked.value.errors["images"][0]
    assert blocked.value.message.startswith("Deploying to web was refused")
    assert Revision.objects.filter(release=release).count() == 1
    run.refresh_from_db()
    assert run.deployed_revision is None
    # no image pushed: nothing is deployed
    run.image_digest = ""
    with pytest.raises(PortalError) as no_image:
        deploy_step.deploy(run)
    assert no_image.value.code == "deploy_no_image"


def test_deploy_this_image(admin_api: APIClient, sandbox: Any, builtin_registry: Any, builtin_pusher: Any,
                           hooks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    Driver(monkeypatch)
    st = stage(admin_api, sandbox, builtin_registry)
    release = releases.create_release(sm=st.sm, name="web", version=st.version, values={}, strategy={},
                                      user=st.developer, request=None)
    pushed = builtin_pusher.image(st.repository(), "v1")
    developer, viewer = APIClient(), APIClient()
    developer.force_authenticate(st.developer)
    body = {"registry": st.registry.pk, "repository": st.repository(), "digest": pushed["digest"], "tag": "v1",
            "release": release.pk}
    answer = developer.post("/api/builds/deploy-image/", body, format="json")
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"release": {"id": release.pk, "name": "web"}, "revision": 2}
    release.refresh_from_db()
    assert release.values["image"]["tag"] == f"v1@{pushed['digest']}"

    missing = developer.post("/api/builds/deploy-image/", {**body, "digest": digest_of("nowhere")}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "image_not_found"), missing.content
    viewer_user = st.developer.__class__.objects.create_user(username=f"v-{st.workspace.name}", password="x")
    Membership.objects.create(workspace=st.workspace, user=viewer_user, role=Role.objects.get(key="viewer"))
    viewer.force_authenticate(viewer_user)
    refused = viewer.post("/api/builds/deploy-image/", body, format="json")
    assert refused.status_code == 403, refused.content
    # a definition deploying to the release says where the chart wants its image
    BuildDefinition.objects.create(workspace=st.workspace, name="ref", git_url="http://127.0.0.1:9/x.git",
                                   registry=st.registry, repository=st.repository(), cluster=st.sm.cluster,
                                   service_map=st.sm, deploy_release=release, deploy_image_path="image",
                                   deploy_image_format=ImageFormat.REFERENCE)
    wrong = developer.post("/api/builds/deploy-image/", body, format="json")  # hello-web wants the split form
    assert (wrong.status_code, wrong.json()["code"]) == (400, "image_path_invalid"), wrong.content


def test_set_image_in_values() -> None:
    digest = digest_of("x")
    assert images.set_image({"app": {"image": "old"}}, "app.image", repository="h/r", tag="t", digest=digest,
                            image_format=ImageFormat.REFERENCE) == {"app": {"image": f"h/r:t@{digest}"}}
    assert images.set_image({}, "a.b", repository="h/r", tag="t", digest=digest) == \
        {"a": {"b": {"repository": "h/r", "tag": f"t@{digest}"}}}
    with pytest.raises(images.ImagePathError):
        images.set_image({"image": "nginx"}, "image", repository="h/r", tag="t", digest=digest)
    with pytest.raises(images.ImagePathError):
        images.set_image({}, "bad path!", repository="h/r", tag="t", digest=digest)
