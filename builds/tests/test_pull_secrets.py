"""Pull secrets in a sandbox service map (docs/image-policy.md "Pull secrets"): deploying an image of
the built-in registry (which needs credentials) makes the ``portal-pull-builtin`` dockerconfigjson
Secret before the Deployment and names it in the pod spec; deleted or edited by hand, the beat's
reconcile puts it back; rotating the registry's password updates it at once; when the registry is no
longer allocated to the workspace the secret is deleted; an image outside the workspace's registry
allocation gets no secret."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from builds import pull_secrets, tasks_pull
from builds.tests.deploy_helpers import digest_of, hooks_installed, stage
from catalog import releases
from catalog.tests.helpers import Driver
from catalog.tests.helpers import release_state as state
from clusters.kube.errors import NotFound
from clusters.tests.helpers import client_for
from workspaces.models import RegistryAllocation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooks() -> Iterator[None]:
    with hooks_installed():
        yield


def _config(secret: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])))


def test_pull_secret_made_referenced_repaired_and_rotated(admin_api: APIClient, sandbox: Any, builtin_registry: Any,
                                                          hooks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = Driver(monkeypatch)
    st = stage(admin_api, sandbox, builtin_registry)
    registry, ns, name = st.registry, st.sm.namespace, "portal-pull-builtin"
    digest = digest_of("app")
    release = releases.create_release(
        sm=st.sm, name="web", version=st.version, strategy={}, user=st.developer, request=None,
        values={"image": {"repository": st.image(), "tag": f"1.0.B000001@{digest}"}})
    driver.run(until=lambda: state(release) == ("deployed", 1))
    with client_for(sandbox, "cluster-1") as kube:
        deployment = kube.get_object("Deployment", "web-hello", ns)
        secret = kube.get_object("Secret", name, ns)
    assert deployment["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": name}]
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    labels = secret["metadata"]["labels"]
    assert labels[pull_secrets.REGISTRY_LABEL] == str(registry.pk)
    assert labels["app.kubernetes.io/managed-by"] == "cluster-portal"
    assert {m["manager"] for m in secret["metadata"]["managedFields"]} == {"portal-builds"}
    auth = _config(secret)["auths"][registry.host]
    assert (auth["username"], auth["password"]) == (registry.username, registry.get_password())

    # nothing to do while it is current
    assert pull_secrets.reconcile().applied == 0
    # deleted by hand: the beat's task puts it back
    with client_for(sandbox, "cluster-1") as kube:
        kube.delete_object("Secret", name, ns)
        with pytest.raises(NotFound):
            kube.get_object("Secret", name, ns)
    assert tasks_pull.reconcile_pull_secrets.run()["applied"] == 1
    with client_for(sandbox, "cluster-1") as kube:
        assert _config(kube.get_object("Secret", name, ns))["auths"][registry.host]["password"] == \
            registry.get_password()
        # edited by hand: repaired too
        kube.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
                    "data": {".dockerconfigjson": base64.b64encode(b'{"auths":{}}').decode()}},
                   field_manager="kubectl-edit")
    assert pull_secrets.reconcile().applied == 1
    with client_for(sandbox, "cluster-1") as kube:
        assert registry.host in _config(kube.get_object("Secret", name, ns))["auths"]

    # the password is rotated: the secret is updated at once by the rotation task
    registry.set_password("rotated-Passw0rd")
    registry.password_changed = timezone.now()
    registry.save()
    assert tasks_pull.rotate_pull_secrets.run(registry.pk)["applied"] == 1
    with client_for(sandbox, "cluster-1") as kube:
        rotated = kube.get_object("Secret", name, ns)
    assert _config(rotated)["auths"][registry.host]["password"] == "rotated-Passw0rd"
    assert rotated["metadata"]["annotations"][pull_secrets.PASSWORD_ANNOTATION] == \
        registry.password_changed.isoformat()
    assert pull_secrets.reconcile().applied == 0  # converged

    # the registry is no longer allocated to the workspace: its credentials leave the namespace
    RegistryAllocation.objects.filter(workspace=st.workspace).delete()
    assert pull_secrets.reconcile().deleted == 1
    with client_for(sandbox, "cluster-1") as kube, pytest.raises(NotFound):
        kube.get_object("Secret", name, ns)


def test_only_images_under_the_workspace_allocation_get_a_secret(admin_api: APIClient, sandbox: Any,
                                                                 builtin_registry: Any) -> None:
    st = stage(admin_api, sandbox, builtin_registry)
    ours = f"{st.image()}:1"
    theirs = f"{builtin_registry.host}/another-team/web:1"
    assert pull_secrets.needed(st.sm, [ours, theirs, "nginx:1.27", "Not An Image!"]) == {ours: "portal-pull-builtin"}
