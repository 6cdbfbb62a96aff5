"""A credential limited to some namespaces, against a sandbox that enforces RBAC as an API server
does (issue 21 §1): registration accepts it (naming what is missing when it cannot), the check
records what the portal can and cannot do with the RBAC YAML that fixes each gap, the watcher
lists and watches that namespace only, cluster-scoped views say "not permitted" (``forbidden``),
a 403 kind stays ``forbidden`` across retries, and relists are counted with their reason."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import pytest
import yaml
from rest_framework.test import APIClient

from clusters import services
from clusters.kube.client import KubeClient
from clusters.kube.connection import spec_from_kubeconfig
from clusters.kube.kinds import WATCHED_KINDS
from clusters.models import Cluster, KindSync
from clusters.tests.helpers import engine
from portal.testing import unique, wait_for
from sandbox.resources import NAMESPACES, PODS, SERVICES

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/clusters/"
SANDBOX = "cluster-2"
READ_KINDS = {"apiGroups": ["", "apps", "batch", "networking.k8s.io", "autoscaling"], "resources": ["*"],
              "verbs": ["get", "list", "watch"]}


def admin_client(fleet: Any) -> KubeClient:
    return KubeClient(spec_from_kubeconfig(fleet.cluster(SANDBOX).kubeconfig.read_text())[0])


def service_account(fleet: Any, ns: str, *, rules: list[dict[str, Any]] | None) -> str:
    """A ServiceAccount in ``ns`` bound (RoleBinding) to a Role with ``rules``, created through the
    API as an admin would, and a token for it from the TokenRequest API."""
    with admin_client(fleet) as admin:
        admin._raw("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", body={"metadata": {"name": "portal"}})
        if rules is not None:
            admin._raw("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
                       body={"metadata": {"name": "portal-read"}, "rules": rules})
            admin._raw("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
                       body={"metadata": {"name": "portal-read"},
                             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                         "name": "portal-read"},
                             "subjects": [{"kind": "ServiceAccount", "name": "portal", "namespace": ns}]})
        body = admin._raw("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/portal/token",
                          body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": 7200}})
    return str(body["status"]["token"])


def namespace_with_objects(fleet: Any, prefix: str) -> str:
    ns = unique(prefix)

    def create(c: Any) -> None:
        c.store.create(NAMESPACES, {"metadata": {"name": ns}})
        c.store.create(SERVICES, {"metadata": {"name": "web", "namespace": ns}, "spec": {"ports": [{"port": 80}]}})
        c.store.create(PODS, {"metadata": {"name": "solo", "namespace": ns},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})

    fleet.in_cluster(SANDBOX, create)
    return ns


def fields(fleet: Any, token: str) -> dict[str, Any]:
    handle = fleet.cluster(SANDBOX)
    return {"server": handle.server, "ca_pem": handle.ca_path.read_text(), "token": token}


def test_refusal_names_what_is_missing(admin_api: APIClient, sandbox: Any) -> None:
    ns = namespace_with_objects(sandbox, "norights")
    token = service_account(sandbox, ns, rules=None)
    response = admin_api.post(URL, {"name": unique("nr"), **fields(sandbox, token)}, format="json")
    assert response.status_code == 400, response.json()
    message = response.json()["errors"]["token"][0]
    assert message.startswith("The identity may not list namespaces at the cluster scope (list namespaces). "
                              "List the namespaces it may read under Namespaces, or grant it list and watch on "
                              "namespaces. ")
    assert (f'User "system:serviceaccount:{ns}:portal" cannot list resource "namespaces" in API group "" at the '
            "cluster scope") in message
    # Listing a namespace it may not read either is refused on that field.
    response = admin_api.post(URL, {"name": unique("nr"), **fields(sandbox, token), "namespaces": [ns]},
                              format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["namespaces"][0].startswith(
        f"The identity may not read anything the portal shows in {ns}. ")


def test_namespace_scoped_identity_end_to_end(admin_api: APIClient, sandbox: Any) -> None:
    ns = namespace_with_objects(sandbox, "team")
    other = namespace_with_objects(sandbox, "other")
    token = service_account(sandbox, ns, rules=[READ_KINDS])

    # Registration: no namespace given; the portal finds the ServiceAccount's own.
    response = admin_api.post(URL, {"name": unique("ns"), **fields(sandbox, token)}, format="json")
    assert response.status_code == 202, response.json()
    cluster = Cluster.objects.get(pk=response.json()["id"])
    assert services.check_cluster(cluster.pk) == "connected"
    cluster.refresh_from_db()
    perms = cluster.permissions
    assert perms["scope"] == "namespaces"
    assert perms["namespaces"] == [ns]
    assert perms["subject"] == {"kind": "ServiceAccount", "name": "portal", "namespace": ns}
    assert perms["kinds"]["Pod"] == {"scope": "namespaces", "namespaces": [ns]}
    assert perms["kinds"]["Node"]["scope"] == "none"
    assert "list and watch nodes at the cluster scope" in perms["kinds"]["Node"]["message"]
    nodes = next(r for r in perms["rows"] if r["resource"] == "nodes" and r["subresource"] == "")
    assert (nodes["scope"], nodes["allowed"], nodes["missing"]) == ("cluster", [], ["list", "watch"])
    role, binding = yaml.safe_load_all(nodes["fix"])
    assert role["kind"] == "ClusterRole"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]}]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "portal", "namespace": ns}]
    pods = next(r for r in perms["rows"] if r["resource"] == "pods" and r["namespace"] == ns)
    assert (pods["allowed"], pods["missing"], pods["fix"]) == (["list", "watch"], [], "")
    assert "list nodes" in cluster.missing_permissions
    assert f"the portal watches {ns}." in cluster.status_message
    detail = admin_api.get(f"{URL}{cluster.pk}/").json()
    assert detail["permissions"]["scope"] == "namespaces"
    assert detail["status_code"] == "connected_partial"

    # Applying the suggested YAML closes the gap (the sandbox enforces it as an API server does).
    with admin_client(sandbox) as admin:
        for doc in yaml.safe_load_all(nodes["fix"]):
            plural = "clusterroles" if doc["kind"] == "ClusterRole" else "clusterrolebindings"
            admin._raw("POST", f"/apis/rbac.authorization.k8s.io/v1/{plural}",
                       body={**doc, "metadata": {"name": f"{doc['metadata']['name']}-{ns}"},
                             **({"roleRef": {**doc["roleRef"], "name": f"{doc['roleRef']['name']}-{ns}"}}
                                if "roleRef" in doc else {})})

    def state(kind: str) -> str:
        return str(KindSync.objects.filter(cluster=cluster, kind=kind).values_list("state", flat=True).first() or "")

    seen: dict[str, set[str]] = {"PersistentVolume": set(), "StorageClass": set(), "Node": set()}
    with engine(forbidden_recheck=0.5):
        wait_for(lambda: state("Pod") == "synced" and state("Service") == "synced" and state("StorageClass"),
                 what="namespaced kinds synced")
        # the namespace it may read is in the read model, the other namespace is not
        assert cluster.kube_objects.filter(kind="Pod", namespace=ns, name="solo").exists()
        assert cluster.kube_objects.filter(kind="Service", namespace=ns, name="web").exists()
        assert not cluster.kube_objects.filter(namespace=other).exists()
        # Cluster-scoped views it may not read are "not permitted", and stay so across retries.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            for kind in seen:
                seen[kind].add(state(kind))
            time.sleep(0.05)
        assert seen["PersistentVolume"] == {"forbidden"}, seen
        assert seen["StorageClass"] == {"forbidden"}, seen
        sync = KindSync.objects.get(cluster=cluster, kind="StorageClass")
        assert sync.code in ("forbidden", "")
        assert "storageclasses" in sync.message
        storage = admin_api.get(f"{URL}{cluster.pk}/storageclasses/").json()
        assert storage["freshness"]["state"] == "forbidden"
        assert storage["results"] == []
        pod_list = admin_api.get(f"{URL}{cluster.pk}/pods/").json()
        assert pod_list["freshness"]["state"] == "synced"
        # The cluster's freshness counts only what it may see.
        wait_for(lambda: admin_api.get(f"{URL}{cluster.pk}/").json()["freshness"] == "fresh",
                 what="fresh over the permitted kinds")

        # Nodes were granted after the check (the YAML above): the recheck picks them up.
        wait_for(lambda: state("Node") == "synced", what="nodes listed once permitted", timeout=20)
        assert cluster.kube_objects.filter(kind="Node").exists()

        # A permission withdrawn at runtime: the kind turns forbidden and stays forbidden.
        with admin_client(sandbox) as admin:
            admin._raw("DELETE", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/portal-read")
        sandbox.inject_fault(SANDBOX, close_watches=True)
        wait_for(lambda: state("Service") == "forbidden", what="services forbidden after the grant went")
        later: set[str] = set()
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            later.add(state("Service"))
            time.sleep(0.05)
        assert later == {"forbidden"}
        message = KindSync.objects.get(cluster=cluster, kind="Service").message
        assert f'cannot list resource "services" in API group "" in the namespace "{ns}"' in message \
            or f'cannot watch resource "services" in API group "" in the namespace "{ns}"' in message
    cluster.refresh_from_db()
    assert cluster.status_message  # the check's message is never replaced by nothing


def test_relist_counters_move_on_410(admin_api: APIClient, sandbox: Any) -> None:
    handle = sandbox.cluster(SANDBOX)
    response = admin_api.post(URL, {"name": unique("rl"), **fields(sandbox, handle.token)}, format="json")
    assert response.status_code == 202, response.json()
    cluster = Cluster.objects.get(pk=response.json()["id"])
    services.check_cluster(cluster.pk)
    with engine():
        wait_for(lambda: KindSync.objects.filter(cluster=cluster, state="synced").count() == len(WATCHED_KINDS), what="synced")
        assert not KindSync.objects.filter(cluster=cluster, relists__gt=0).exists()  # the first list is not one
        sandbox.inject_fault(SANDBOX, expire_next_watch=True, close_watches=True)
        relisted = wait_for(lambda: KindSync.objects.filter(cluster=cluster, relists__gt=0).first(),
                            what="a relist counted")
    assert relisted.relists == 1
    assert relisted.last_relist_reason == "gone"
    assert relisted.last_relist_at is not None
    syncs = admin_api.get(f"{URL}{cluster.pk}/").json()["syncs"]
    row = next(s for s in syncs if s["kind"] == relisted.kind)
    assert (row["relists"], row["last_relist_reason"]) == (1, "gone")
    assert row["last_relist_at"]


def test_an_outage_logs_each_failure_once_and_nothing_unretrieved(admin_api: APIClient, sandbox: Any,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    handle = sandbox.cluster("cluster-3")
    response = admin_api.post(URL, {"name": unique("out"), "server": handle.server,
                                    "ca_pem": handle.ca_path.read_text(), "token": handle.token}, format="json")
    cluster = Cluster.objects.get(pk=response.json()["id"])
    caplog.set_level(logging.DEBUG)
    with engine():
        wait_for(lambda: KindSync.objects.filter(cluster=cluster, state="synced").count() == len(WATCHED_KINDS), what="synced")
        sandbox.inject_fault("cluster-3", blackhole=True)
        try:
            wait_for(lambda: Cluster.objects.get(pk=cluster.pk).status == "unreachable", what="unreachable")
            time.sleep(2.0)  # streams and probes fail in the meantime
        finally:
            sandbox.inject_fault("cluster-3", blackhole=False)
        wait_for(lambda: KindSync.objects.filter(cluster=cluster, state="synced").count() == len(WATCHED_KINDS), what="back")
    gc.collect()
    cluster.refresh_from_db()
    assert cluster.status_code == "connected"
    ours = [r for r in caplog.records if r.name.startswith(("clusters", "asyncio", "portal"))]
    errors = [r for r in ours if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]  # the sandbox's too
    states = [r for r in ours if r.getMessage() == "watcher cluster state"
              and getattr(r, "state", "") == "unreachable"]
    assert len(states) == 1
    assert states[0].levelno == logging.WARNING
    assert states[0].code in ("read_timeout", "connect_timeout", "connection_reset")  # type: ignore[attr-defined]


def test_listed_and_discovered_namespaces(admin_api: APIClient, sandbox: Any) -> None:
    """Two namespaces readable through RoleBindings: the admin may list them, or the portal finds them
    by listing namespaces (when allowed) and asking SelfSubjectRulesReview in each."""
    home = namespace_with_objects(sandbox, "home")
    second = namespace_with_objects(sandbox, "second")
    unread = namespace_with_objects(sandbox, "unread")
    token = service_account(sandbox, home, rules=[READ_KINDS])
    with admin_client(sandbox) as admin:
        admin._raw("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{second}/rolebindings",
                   body={"metadata": {"name": "portal-view"},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                         "subjects": [{"kind": "ServiceAccount", "name": "portal", "namespace": home}]})

    listed = admin_api.post(URL, {"name": unique("ls"), **fields(sandbox, token), "namespaces": [home, second]},
                            format="json")
    assert listed.status_code == 202, listed.json()
    assert listed.json()["namespaces"] == [home, second]
    cluster = Cluster.objects.get(pk=listed.json()["id"])
    assert services.check_cluster(cluster.pk) == "connected"
    cluster.refresh_from_db()
    assert cluster.permissions["namespaces"] == [home, second]
    assert cluster.permissions["kinds"]["Deployment"] == {"scope": "namespaces", "namespaces": [home, second]}
    # networking.k8s.io is not in the bootstrapped view role: Ingresses only where the Role grants them
    assert cluster.permissions["kinds"]["Ingress"] == {"scope": "namespaces", "namespaces": [home]}
    ingress = next(r for r in cluster.permissions["rows"] if r["resource"] == "ingresses" and r["namespace"] == second)
    assert ingress["missing"] == ["list", "watch"]
    role = next(yaml.safe_load_all(ingress["fix"]))
    assert (role["kind"], role["metadata"]) == ("Role", {"name": "portal-ingresses", "namespace": second})
    with engine():
        wait_for(lambda: cluster.kube_objects.filter(kind="Pod", namespace=second, name="solo").exists()
                 and cluster.kube_objects.filter(kind="Pod", namespace=home, name="solo").exists(),
                 what="pods of both namespaces")
        assert not cluster.kube_objects.filter(namespace=unread).exists()

    # Allowed to list namespaces: nothing listed, the portal finds the readable ones itself.
    with admin_client(sandbox) as admin:
        admin._raw("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                   body={"metadata": {"name": f"ns-list-{home}"},
                         "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}]})
        admin._raw("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                   body={"metadata": {"name": f"ns-list-{home}"},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                     "name": f"ns-list-{home}"},
                         "subjects": [{"kind": "ServiceAccount", "name": "portal", "namespace": home}]})
    found = admin_api.post(URL, {"name": unique("ds"), **fields(sandbox, token)}, format="json")
    assert found.status_code == 202, found.json()
    cluster = Cluster.objects.get(pk=found.json()["id"])
    assert services.check_cluster(cluster.pk) == "connected"
    cluster.refresh_from_db()
    assert set(cluster.permissions["namespaces"]) == {home, second}
    assert cluster.permissions["kinds"]["Namespace"] == {"scope": "cluster", "namespaces": []}


def test_namespaces_are_changed_with_patch(admin_api: APIClient, sandbox: Any) -> None:
    response = admin_api.post(URL, {"name": unique("pt"), **fields(sandbox, sandbox.cluster(SANDBOX).token)},
                              format="json")
    cluster_id = response.json()["id"]
    changed = admin_api.patch(f"{URL}{cluster_id}/", {"namespaces": ["team-a", "team-b"]}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["namespaces"] == ["team-a", "team-b"]
    assert Cluster.objects.get(pk=cluster_id).namespaces == ["team-a", "team-b"]
    bad = admin_api.patch(f"{URL}{cluster_id}/", {"namespaces": ["Team_A"]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"namespaces.0": [
        "Use lower-case letters, digits and '-', starting and ending with a letter or digit (DNS-1123 label)."]}
    too_many = admin_api.patch(f"{URL}{cluster_id}/", {"namespaces": [f"ns-{i}" for i in range(101)]}, format="json")
    assert too_many.status_code == 400
