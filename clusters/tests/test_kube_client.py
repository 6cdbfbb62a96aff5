"""The client layer against sandbox clusters over real HTTPS: TLS, auth, typed errors, the
retry policy, raw lists and watches."""

from __future__ import annotations

import time
from typing import Any

import pytest

from clusters.kube.client import KubeClient
from clusters.kube.connection import ConnectionSpec, Credentials, spec_from_kubeconfig
from clusters.kube.errors import Gone, TLSVerificationFailed, TooManyRequests, Unauthorized, Unreachable
from clusters.kube.kinds import WATCHED_KINDS
from clusters.tests.helpers import other_ca


def spec_of(fleet: Any, name: str = "cluster-1") -> ConnectionSpec:
    return spec_from_kubeconfig(fleet.cluster(name).kubeconfig.read_text())[0]


def test_every_watched_kind_lists(sandbox: Any) -> None:
    with KubeClient(spec_of(sandbox)) as client:
        assert client.version()["gitVersion"].startswith("v1.")
        for kind in WATCHED_KINDS:
            body = client.get_json(kind.lister(client), limit=100)
            assert isinstance(body["items"], list), kind.kind
            assert body["metadata"]["resourceVersion"]
        assert len(client.get_json(client.core.list_node)["items"]) == 3
        assert client.can_i(verb="list", resource="pods")


def test_wrong_token_is_unauthorized(sandbox: Any) -> None:
    spec = spec_of(sandbox)
    bad = ConnectionSpec(server=spec.server, credentials=Credentials(token="wrong"), ca_pem=spec.ca_pem)
    with KubeClient(bad) as client, pytest.raises(Unauthorized, match="rejected the credentials"):
        client.version()


def test_wrong_ca_is_named(sandbox: Any) -> None:
    spec = spec_of(sandbox)
    bad = ConnectionSpec(server=spec.server, credentials=spec.credentials, ca_pem=other_ca())
    with KubeClient(bad) as client, pytest.raises(TLSVerificationFailed, match="not trusted by the given CA"):
        client.version()


def test_hostname_is_pinned_and_verified(sandbox: Any) -> None:
    spec = spec_of(sandbox)
    by_name = ConnectionSpec(server=spec.server.replace("127.0.0.1", "localhost"), credentials=spec.credentials,
                             ca_pem=spec.ca_pem)
    with KubeClient(by_name) as client:
        assert client.endpoint.address in ("127.0.0.1", "::1")
        assert client.version()["major"] == "1"


def test_blackhole_times_out_as_unreachable(sandbox: Any) -> None:
    sandbox.inject_fault("cluster-2", blackhole=True)
    started = time.monotonic()
    with KubeClient(spec_of(sandbox, "cluster-2"), read_timeout=1.0) as client, pytest.raises(Unreachable):
        client.call(client.version_api.get_code, attempts=1)
    assert time.monotonic() - started < 5


def test_server_errors_are_retried_then_succeed(sandbox: Any) -> None:
    sandbox.inject_fault("cluster-2", error_rate=0.3, error_codes=[503], retry_after=0)
    with KubeClient(spec_of(sandbox, "cluster-2")) as client:
        ok = sum(1 for _ in range(10) if client.call(client.version_api.get_code, attempts=12))
    assert ok == 10


def test_429_honours_retry_after_then_gives_up(sandbox: Any) -> None:
    sandbox.inject_fault("cluster-2", error_rate=1.0, error_codes=[429], retry_after=0)
    with KubeClient(spec_of(sandbox, "cluster-2")) as client, pytest.raises(TooManyRequests):
        client.call(client.version_api.get_code, attempts=2)


def test_watch_streams_changes_and_expired_versions_raise_gone(sandbox: Any) -> None:
    with KubeClient(spec_of(sandbox)) as client:
        listed = client.get_json(client.core.list_namespace)
        rv = listed["metadata"]["resourceVersion"]
        client.call(client.core.create_namespace, {"metadata": {"name": "watch-me"}})
        events = []
        for event in client.watch(client.core.list_namespace, resource_version=rv, timeout_seconds=5):
            events.append(event)
            if event["type"] == "ADDED":
                break
        assert events[-1]["object"]["metadata"]["name"] == "watch-me"
        sandbox.inject_fault("cluster-1", expire_next_watch=True)
        with pytest.raises(Gone):
            for _ in client.watch(client.core.list_namespace, resource_version=rv, timeout_seconds=5):
                pass
        client.call(client.core.delete_namespace, "watch-me")


def test_a_shared_client_is_kept_per_spec_and_replaced_after_its_time(sandbox: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's deploys and looks reuse one client per cluster (its TLS connections and its
    discovery); other credentials get their own at once, and a client is replaced after
    SHARED_SECONDS (its address resolved again)."""
    from clusters.kube import client as kube_client

    spec = spec_of(sandbox, "cluster-2")
    first = kube_client.shared_client(spec, read_timeout=7.0)
    assert kube_client.shared_client(spec, read_timeout=7.0) is first
    assert first.version()["gitVersion"].startswith("v1.")
    rotated = ConnectionSpec(server=spec.server, credentials=Credentials(token="another"), ca_pem=spec.ca_pem)
    assert kube_client.shared_client(rotated, read_timeout=7.0) is not first
    assert kube_client.shared_client(spec, read_timeout=3.0) is not first  # other timeouts: its own
    monkeypatch.setattr(kube_client, "SHARED_SECONDS", 0.0)
    assert kube_client.shared_client(spec, read_timeout=7.0) is not first


def test_a_client_knows_when_the_cluster_last_answered(sandbox: Any) -> None:
    """A deploy skips its probe of a cluster that answered its client moments ago: an answer
    (an error status included) counts, a cluster that does not answer does not."""
    spec = spec_of(sandbox)
    with KubeClient(spec) as client:
        assert not client.answered_within(60)
        client.version()
        assert client.answered_within(60)
        assert not client.answered_within(0)
    bad = ConnectionSpec(server=spec.server, credentials=Credentials(token="wrong"), ca_pem=spec.ca_pem)
    with KubeClient(bad) as client:
        with pytest.raises(Unauthorized):
            client.version(attempts=1)
        assert client.answered_within(60)  # 401: the API server is there
    gone = ConnectionSpec(server="https://127.0.0.1:9", credentials=Credentials(token="x"))
    with KubeClient(gone) as client:
        with pytest.raises(Unreachable):
            client.version(attempts=1)
        assert not client.answered_within(60)


def test_discovery_is_cached_and_asked_again_for_a_kind_it_lacked(sandbox: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept client must still find a kind installed since it last asked (a CRD)."""
    with KubeClient(spec_of(sandbox)) as client:
        asked: list[str] = []
        raw = client._raw

        def counted(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            asked.append(path)
            return raw(method, path, **kwargs)

        monkeypatch.setattr(client, "_raw", counted)
        assert client.resource("apps/v1", "Deployment").plural == "deployments"
        assert client.resource("apps/v1", "StatefulSet").plural == "statefulsets"
        assert asked == ["/apis/apps/v1"]  # one discovery for the group version
        client._discovered["apps/v1"].pop("DaemonSet")  # as if cached before it was served
        assert client.resource("apps/v1", "DaemonSet").plural == "daemonsets"
        assert asked == ["/apis/apps/v1", "/apis/apps/v1"]
