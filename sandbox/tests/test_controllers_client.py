"""The simulated behaviour through the official kubernetes Python client, over HTTPS like the portal."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from sandbox.cluster import SimCluster
from sandbox.controllers import ControllerManager
from sandbox.controllers.config import fast
from sandbox.testing import SandboxFleet, running_sandbox

NS = "client"


@pytest.fixture(scope="module")
def cfleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFleet]:
    with running_sandbox(clusters=1, nodes=3, state_dir=tmp_path_factory.mktemp("client-workloads"),
                         pod_shutdown_seconds=0.2) as f:
        def speed_up(c: Any) -> None:
            c.controllers.config = fast()

        f.in_cluster("cluster-1", speed_up)
        yield f


@pytest.fixture(scope="module")
def api(cfleet: SandboxFleet) -> Iterator[client.ApiClient]:
    c = config.new_client_from_config(config_file=str(cfleet.cluster("cluster-1").kubeconfig))
    client.CoreV1Api(c).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    yield c
    c.close()


def poll(fn: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def deployment(name: str, replicas: int, *, cpu: str = "100m", annotations: dict[str, str] | None = None,
               image: str = "nginx:1.25") -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas, selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}, annotations=annotations),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name=name, image=image,
                    resources=client.V1ResourceRequirements(requests={"cpu": cpu, "memory": "64Mi"}))]))))


def rolled_out(apps: client.AppsV1Api, name: str, ns: str = NS) -> bool:
    d = apps.read_namespaced_deployment(name, ns)
    st = d.status
    want = d.spec.replicas
    return bool(st.observed_generation == d.metadata.generation and (st.updated_replicas or 0) == want
                and (st.available_replicas or 0) == want and (st.replicas or 0) == want)


def test_deployment_rolls_out_and_scales(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    apps.create_namespaced_deployment(NS, deployment("web", 2))
    poll(lambda: rolled_out(apps, "web"), what="rollout")
    d = apps.read_namespaced_deployment("web", NS)
    assert {c.type: c.reason for c in d.status.conditions} == {"Available": "MinimumReplicasAvailable",
                                                               "Progressing": "NewReplicaSetAvailable"}
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 5}})
    poll(lambda: rolled_out(apps, "web"), what="scale to 5")
    pods = core.list_namespaced_pod(NS, label_selector="app=web").items
    running = [p for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp]
    assert len(running) == 5
    assert all(p.status.container_statuses[0].ready for p in running)
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert scale.status.replicas == 5


def test_quota_failedcreate_event_on_replicaset(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="quota")))
    core.create_namespaced_resource_quota("quota", client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="cpu"), spec=client.V1ResourceQuotaSpec(hard={"requests.cpu": "250m"})))
    apps.create_namespaced_deployment("quota", deployment("web", 3))
    rs = poll(lambda: apps.list_namespaced_replica_set("quota").items, what="replicaset")[0]
    name = rs.metadata.name
    events = poll(lambda: [e for e in core.list_namespaced_event(
        "quota", field_selector=f"involvedObject.name={name},reason=FailedCreate").items], what="FailedCreate")
    ev = events[0]
    assert ev.type == "Warning"
    assert ev.involved_object.kind == "ReplicaSet"
    assert ev.source.component == "replicaset-controller"
    assert "is forbidden: exceeded quota: cpu, requested: requests.cpu=100m, used: requests.cpu=200m, " \
           "limited: requests.cpu=250m" in ev.message
    assert len(core.list_namespaced_pod("quota").items) == 2


def test_crashloop_restart_count_rises(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(NS, client.V1Pod(
        metadata=client.V1ObjectMeta(name="crash"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="busybox:1.36",
                                                             command=["sh", "-c", "crashloop"])])))

    def restarts() -> int:
        st = core.read_namespaced_pod("crash", NS).status
        return int(st.container_statuses[0].restart_count) if st.container_statuses else 0

    poll(lambda: restarts() >= 1, what="first restart")
    first = restarts()
    poll(lambda: restarts() > first, what="restart count rising")
    events = core.list_namespaced_event(NS, field_selector="involvedObject.name=crash,reason=BackOff").items
    assert len(events) == 1
    assert events[0].count >= 1


def test_job_completes(api: client.ApiClient) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(NS, client.V1Job(
        metadata=client.V1ObjectMeta(name="once"),
        spec=client.V1JobSpec(completions=2, template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            restart_policy="Never", containers=[client.V1Container(name="w", image="busybox", command=["true"])])))))

    def complete() -> Any:
        job = batch.read_namespaced_job("once", NS)
        return job if any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or []) else None

    job = poll(complete, what="job complete")
    assert job.status.succeeded == 2
    assert job.status.completion_time is not None


def test_hpa_scales_on_load(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    autoscaling = client.AutoscalingV2Api(api)
    apps.create_namespaced_deployment(NS, deployment("hot", 1, cpu="200m",
                                                     annotations={"sandbox.k8s.io/cpu-load": "2.0"}))
    autoscaling.create_namespaced_horizontal_pod_autoscaler(NS, client.V2HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="hot"),
        spec=client.V2HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V2CrossVersionObjectReference(api_version="apps/v1", kind="Deployment", name="hot"),
            min_replicas=1, max_replicas=3,
            metrics=[client.V2MetricSpec(type="Resource", resource=client.V2ResourceMetricSource(
                name="cpu", target=client.V2MetricTarget(type="Utilization", average_utilization=80)))])))
    poll(lambda: apps.read_namespaced_deployment("hot", NS).spec.replicas == 3, what="scaled to max")
    hpa = poll(lambda: (h := autoscaling.read_namespaced_horizontal_pod_autoscaler("hot", NS)).status.current_metrics
               and h, what="hpa status")
    assert hpa.status.current_metrics[0].resource.current.average_utilization >= 150
    assert hpa.status.desired_replicas == 3


def test_top_metrics_api(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == [f"cluster-1-node-{i}" for i in (1, 2, 3)]
    pods = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods")["items"]
    assert pods
    assert pods[0]["containers"][0]["usage"]["cpu"].endswith("n")


def set_ready(cfleet: SandboxFleet, node: str, ready: bool) -> None:
    def act(c: SimCluster) -> None:
        assert isinstance(c.controllers, ControllerManager)
        c.controllers.set_node_ready(node, ready)

    cfleet.in_cluster("cluster-1", act)


def test_not_ready_node_seen_through_the_api(api: client.ApiClient, cfleet: SandboxFleet) -> None:
    core = client.CoreV1Api(api)
    set_ready(cfleet, "cluster-1-node-3", False)
    node = core.read_node("cluster-1-node-3")
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert ready.status == "False"
    assert {(t.key, t.effect) for t in node.spec.taints} >= {("node.kubernetes.io/not-ready", "NoExecute")}
    set_ready(cfleet, "cluster-1-node-3", True)
    assert next(c for c in core.read_node("cluster-1-node-3").status.conditions if c.type == "Ready").status == "True"
