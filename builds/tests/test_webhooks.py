"""Git webhooks (docs/image-policy.md "Webhooks"): a signed push from GitHub, GitLab or the generic
form queues a run of the ref it pushed; a wrong or missing signature, a definition that does not
exist or takes no webhooks are the same 401; a replayed delivery id is a 409 and starts nothing;
a ping or a ref the definition does not build starts nothing; a secret in the URL is not accepted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from builds import webhooks
from builds.models import BuildDefinition, BuildRun, WebhookDelivery
from builds.tests.definition_helpers import SentTasks, World, api_for, make_world

pytestmark = pytest.mark.django_db

SHA = "a" * 40
OTHER_SHA = "b" * 40


@pytest.fixture
def world() -> World:
    return make_world()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> SentTasks:
    return SentTasks(monkeypatch)


def _definition(world: World, **overrides: Any) -> tuple[BuildDefinition, str]:
    """A definition with webhooks on, made through the API; its secret (shown once)."""
    body = world.body(webhook_enabled=True, **overrides)
    response = api_for(world.developer).post("/api/builds/definitions/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    return BuildDefinition.objects.get(pk=data["id"]), data["webhook_secret"]


def _post(definition_id: int, body: bytes, query: str = "", **headers: str) -> Any:
    client = APIClient(enforce_csrf_checks=True)  # no session, no CSRF token: the signature is the credential
    return client.post(f"/api/builds/webhooks/{definition_id}/{query}", body, content_type="application/json",
                       headers=headers)


def _github(definition_id: int, secret: str, payload: dict[str, Any], *, delivery: str = "gh-1",
            event: str = "push") -> Any:
    body = json.dumps(payload).encode()
    return _post(definition_id, body, **{"X-Hub-Signature-256": webhooks.signature_header(secret, body),
                                         "X-GitHub-Delivery": delivery, "X-GitHub-Event": event})


def _generic(definition_id: int, secret: str, payload: dict[str, Any], *, delivery: str = "d-1") -> Any:
    body = json.dumps(payload).encode()
    return _post(definition_id, body, **{"X-Portal-Signature": webhooks.signature_header(secret, body),
                                         "X-Portal-Delivery": delivery})


def test_a_signed_github_push_queues_a_run_of_the_pushed_commit(world: World, sent: SentTasks) -> None:
    definition, secret = _definition(world)
    response = _github(definition.pk, secret, {"ref": "refs/heads/main", "after": SHA})
    assert response.status_code == 202, response.content
    run = BuildRun.objects.get(pk=response.json()["run"]["id"])
    assert (run.trigger, run.git_ref, run.git_commit, run.requested_by) == ("webhook", "main", SHA, None)
    assert WebhookDelivery.objects.get(definition=definition).run == run
    assert WebhookDelivery.objects.get(definition=definition).provider == "github"


def test_a_gitlab_push_and_a_generic_push_queue_runs(world: World, sent: SentTasks) -> None:
    definition, secret = _definition(world, trigger_refs=["refs/heads/main", "refs/tags/v*"])
    body = json.dumps({"object_kind": "tag_push", "ref": "refs/tags/v1.2", "after": SHA}).encode()
    gitlab = _post(definition.pk, body, **{"X-Gitlab-Token": secret, "X-Gitlab-Event": "Tag Push Hook",
                                           "X-Gitlab-Event-UUID": "gl-1"})
    assert gitlab.status_code == 202, gitlab.content
    assert (gitlab.json()["run"]["git_ref"], gitlab.json()["run"]["git_commit"]) == ("v1.2", SHA)
    generic = _generic(definition.pk, secret, {"ref": "main", "after": OTHER_SHA})  # a bare branch name
    assert generic.status_code == 202, generic.content
    assert generic.json()["run"]["git_ref"] == "main"
    assert sorted(WebhookDelivery.objects.values_list("provider", flat=True)) == ["generic", "gitlab"]


def test_wrong_missing_and_unknown_are_the_same_401_and_start_nothing(world: World, sent: SentTasks) -> None:
    definition, secret = _definition(world)
    payload = {"ref": "refs/heads/main", "after": SHA}
    wrong = _github(definition.pk, "not-the-secret", payload)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "webhook_signature_invalid")
    tampered = json.dumps({"ref": "refs/heads/main", "after": OTHER_SHA}).encode()
    signed_other = _post(definition.pk, tampered, **{
        "X-Hub-Signature-256": webhooks.signature_header(secret, json.dumps(payload).encode()),
        "X-GitHub-Delivery": "gh-2", "X-GitHub-Event": "push"})
    assert signed_other.status_code == 401
    gitlab_wrong = _post(definition.pk, json.dumps(payload).encode(), **{
        "X-Gitlab-Token": secret + "x", "X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "gl-9"})
    assert gitlab_wrong.status_code == 401
    missing = _post(definition.pk, json.dumps(payload).encode(), **{"X-GitHub-Delivery": "gh-3",
                                                                    "X-GitHub-Event": "push"})
    assert (missing.status_code, missing.json()["code"]) == (401, "webhook_signature_missing")
    # a definition that does not exist, and one with webhooks off: the answer of a wrong signature
    unknown = _github(definition.pk + 1000, secret, payload)
    BuildDefinition.objects.filter(pk=definition.pk).update(webhook_enabled=False)
    off = _github(definition.pk, secret, payload)
    assert unknown.json() == off.json() == wrong.json()
    assert unknown.status_code == off.status_code == 401
    assert not BuildRun.objects.exists()
    assert not sent.named("builds.start_run")


def test_a_secret_in_the_url_is_not_accepted(world: World, sent: SentTasks) -> None:
    definition, secret = _definition(world)
    body = json.dumps({"ref": "refs/heads/main", "after": SHA}).encode()
    for query in (f"?secret={secret}", f"?token={secret}", f"?X-Gitlab-Token={secret}"):
        response = _post(definition.pk, body, query, **{"X-GitHub-Delivery": "gh-url", "X-GitHub-Event": "push"})
        assert (response.status_code, response.json()["code"]) == (401, "webhook_signature_missing"), query
    assert not BuildRun.objects.exists()


def test_a_replayed_delivery_is_refused_and_starts_nothing(world: World, sent: SentTasks) -> None:
    definition, secret = _definition(world)
    payload = {"ref": "refs/heads/main", "after": SHA}
    assert _generic(definition.pk, secret, payload, delivery="once").status_code == 202
    replay = _generic(definition.pk, secret, payload, delivery="once")
    assert (replay.status_code, replay.json()["code"]) == (409, "webhook_replayed")
    assert BuildRun.objects.filter(definition=definition).count() == 1
    # the same id at another definition is another delivery
    second, second_secret = _definition(world, name="shop-2")
    assert _generic(second.pk, second_secret, payload, delivery="once").status_code == 202


def test_a_ping_and_a_ref_not_built_start_nothing(world: World, sent: SentTasks) -> None:
    definition, secret = _definition(world)
    ping = _github(definition.pk, secret, {"zen": "Keep it logically awesome.", "hook_id": 1}, event="ping")
    assert (ping.status_code, ping.json()["code"]) == (200, "webhook_ping")
    other = _github(definition.pk, secret, {"ref": "refs/heads/feature", "after": SHA}, delivery="gh-f")
    assert (other.status_code, other.json()["code"]) == (200, "webhook_ref_ignored")
    tag = _github(definition.pk, secret, {"ref": "refs/tags/v1", "after": SHA}, delivery="gh-t")
    assert tag.json()["code"] == "webhook_ref_ignored"
    deleted = _github(definition.pk, secret, {"ref": "refs/heads/main", "after": "0" * 40, "deleted": True},
                      delivery="gh-d")
    assert deleted.json()["code"] == "webhook_ref_deleted"
    issue = _github(definition.pk, secret, {"action": "opened"}, delivery="gh-i", event="issues")
    assert issue.json()["code"] == "webhook_event_ignored"
    assert not BuildRun.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_bad_payloads_are_400_after_the_signature(world: World, sent: SentTasks) -> None:
    definition, secret = _definition(world)
    not_json = b"ref=main"
    response = _post(definition.pk, not_json, **{"X-Portal-Signature": webhooks.signature_header(secret, not_json),
                                                 "X-Portal-Delivery": "bad-1"})
    assert (response.status_code, response.json()["code"]) == (400, "webhook_payload_invalid")
    body = json.dumps({"ref": "refs/heads/main", "after": SHA}).encode()
    no_id = _post(definition.pk, body, **{"X-Portal-Signature": webhooks.signature_header(secret, body)})
    assert (no_id.status_code, no_id.json()["code"]) == (400, "webhook_delivery_missing")
    no_ref = _generic(definition.pk, secret, {"after": SHA}, delivery="bad-2")
    assert no_ref.json()["code"] == "webhook_payload_invalid"
    big = json.dumps({"ref": "refs/heads/main", "after": SHA, "pad": "x" * webhooks.MAX_BODY}).encode()
    too_big = _post(definition.pk, big, **{"X-Portal-Signature": webhooks.signature_header(secret, big),
                                           "X-Portal-Delivery": "bad-3"})
    assert (too_big.status_code, too_big.json()["code"]) == (400, "webhook_payload_invalid")
    assert not BuildRun.objects.exists()


def test_github_form_encoded_payloads_are_read() -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps({"ref": "refs/heads/main", "after": SHA})}).encode()
    signed = webhooks.Signed(webhooks.GITHUB, webhooks.signature_header("s", body))
    assert webhooks.verify(signed, "s", body)
    push = webhooks.parse(signed, {"X-GitHub-Delivery": "x", "X-GitHub-Event": "push",
                                   "Content-Type": "application/x-www-form-urlencoded"}, body)
    assert (push.ref, push.commit, push.short_ref) == ("refs/heads/main", SHA, "main")


def test_which_refs_a_definition_builds() -> None:
    assert webhooks.builds_ref([], "main", "refs/heads/main")
    assert not webhooks.builds_ref([], "main", "refs/heads/main2")
    assert not webhooks.builds_ref([], "main", "refs/tags/main")
    assert webhooks.builds_ref(["refs/tags/v*"], "main", "refs/tags/v1.2.3")
    assert not webhooks.builds_ref(["refs/tags/v*"], "main", "refs/heads/main")
    assert webhooks.builds_ref(["refs/heads/release/*"], "main", "refs/heads/release/2024")
    assert not webhooks.verify(webhooks.Signed(webhooks.GITLAB, ""), "", b"")  # an empty secret proves nothing
