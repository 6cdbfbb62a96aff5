"""A multi-cluster deploy on a fault-suite :class:`~tests.faults.procs.Stack`, and the checks that
say it converged: used by ``test_workers.py``, ``test_redis.py`` and ``bench/faults.py``.

The setup runs in a subprocess on the private database (``Stack.run_django``): a workspace with a
developer, a ready service map on each sandbox cluster given, and version 1.0.0 of the catalog
tests' ``shop`` chart, changed to two replicas with ``minReadySeconds`` and the message in the pod
template (so every rollout rolls the pods, and a deploy takes a few seconds). :func:`start_rollout` starts a rollout of it to every map (one wave, so
the three deploys run side by side on the workers) with a values change, so each call makes a new
revision of every release. State is read with plain SQL (fast, works across restarts) and the
clusters through their kubeconfigs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from clusters.kube.errors import NotFound
from clusters.tests.helpers import client_for
from tests.faults.procs import Stack

RELEASE_LABEL = "portal.cluster-portal.io/release"  # catalog.manifests.RELEASE_LABEL
REVISION_ANNOTATION = "portal.cluster-portal.io/revision"  # catalog.manifests.REVISION_ANNOTATION
KINDS = ("Deployment", "ConfigMap", "Service")  # what the shop chart renders
RELEASE = "shop"


@dataclass
class Scenario:
    workspace: int
    developer: int
    version: int
    maps: dict[str, dict[str, Any]]  # sandbox cluster name -> {"id", "namespace"}
    rollouts: list[int] = field(default_factory=list)


def setup(stack: Stack, fleet: Any, clusters: tuple[str, ...] = ("cluster-1", "cluster-2", "cluster-3"), *,
          min_ready: int = 2) -> Scenario:
    kubeconfigs = {name: fleet.cluster(name).kubeconfig.read_text() for name in clusters}
    out = stack.run_django(f"""
from rest_framework.test import APIClient
from catalog.tests.helpers import setup_service_maps
from portal.testing import make_user, unique

class Fleet:
    def __init__(self, configs):
        self.configs = configs
    def cluster(self, name):
        import pathlib, tempfile
        path = pathlib.Path(tempfile.mkdtemp()) / "kubeconfig"
        path.write_text(self.configs[name])
        return type("Handle", (), {{"kubeconfig": path}})()

admin = make_user(unique("faultsroot"), role="admin")
api = APIClient()
api.force_authenticate(admin)
workspace, maps, developer, first = setup_service_maps(api, Fleet({kubeconfigs!r}), {clusters!r})
# The same chart with two replicas that must stay ready for a while before they count as
# available: a deploy then takes a few seconds, long enough to be killed in the middle of.
from catalog.tests.helpers import CHART_FILES, add_version
files = dict(CHART_FILES)
files["templates/deployment.yaml"] = files["templates/deployment.yaml"].replace(
    "spec:\\n  replicas:", "spec:\\n  minReadySeconds: {min_ready}\\n  replicas:", 1)
files["templates/deployment.yaml"] = files["templates/deployment.yaml"].replace(
    "    metadata:\\n      labels:",
    "    metadata:\\n      annotations: {{faults/message: {{{{ .Values.message | quote }}}}}}\\n      labels:", 1)
files["values.yaml"] = files["values.yaml"].replace("replicas: 1", "replicas: 2")
version = add_version(first.package, "1.1.0", files, digest="sha256:faults")
result = {{"workspace": workspace.pk, "developer": developer.pk, "version": version.pk,
          "maps": {{name: {{"id": sm.pk, "namespace": sm.namespace}} for name, sm in zip({clusters!r}, maps)}}}}
""")
    return Scenario(workspace=out["workspace"], developer=out["developer"], version=out["version"], maps=out["maps"])


def start_rollout(stack: Stack, scenario: Scenario, message: str) -> int:
    """A rollout of ``message`` (the chart's ConfigMap value) to every service map at once."""
    targets = [{"service_map": m["id"]} for m in scenario.maps.values()]
    rollout = int(stack.run_django(f"""
from catalog import rollouts
from catalog.models import PackageVersion
from portal.models import User
from workspaces.models import Workspace
rollout = rollouts.create_rollout(
    workspace=Workspace.objects.get(pk={scenario.workspace}), release_name={RELEASE!r},
    version=PackageVersion.objects.get(pk={scenario.version}), values={{"message": {message!r}}},
    targets={targets!r}, canary=None, batch_size={len(targets)}, max_failures=0,
    user=User.objects.get(pk={scenario.developer}), request=None)
result = rollout.pk
"""))
    scenario.rollouts.append(rollout)
    return rollout


def rollout_status(stack: Stack, rollout: int) -> str:
    rows = stack.sql("SELECT status FROM catalog_rollout WHERE id = %s", rollout)
    return str(rows[0][0]) if rows else "gone"


def in_flight(stack: Stack, rollout: int) -> bool:
    """Some target's deploy has started and not finished: the moment to kill a worker."""
    rows = stack.sql("""SELECT r.status FROM catalog_rollouttarget t
                        JOIN catalog_revision r ON r.release_id = t.release_id AND r.number = t.revision
                        WHERE t.rollout_id = %s""", rollout)
    return any(status in ("pending", "applying", "progressing") for (status,) in rows)


def start_rollout_and_catch(stack: Stack, scenario: Scenario, message: str, timeout: float = 60.0) -> int | None:
    """Start a rollout (in a thread) and return its id as soon as one of its deploys is in flight
    (polled every 20 ms, while the rollout is being created), or None if it finished first."""
    import threading

    known = {row[0] for row in stack.sql("SELECT id FROM catalog_rollout")}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start_rollout(stack, scenario, message)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [row[0] for row in stack.sql("SELECT id FROM catalog_rollout") if row[0] not in known]
        if new and in_flight(stack, new[0]):
            return int(new[0])
        if errors:
            raise errors[0]
        if new and not thread.is_alive() and rollout_status(stack, new[0]) != "running":
            return None
        time.sleep(0.02)
    raise AssertionError(f"no deploy of the rollout of {message!r} seen in flight within {timeout} s")


def wait_finished(stack: Stack, rollout: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = rollout_status(stack, rollout)
    while time.monotonic() < deadline and status == "running":
        time.sleep(0.3)
        status = rollout_status(stack, rollout)
    return status


def problems(stack: Stack, fleet: Any, scenario: Scenario, rollout: int, message: str) -> list[str]:
    """Everything wrong after ``rollout`` (of ``message``) finished; empty when the invariants hold:
    the rollout succeeded with every target healthy; each release is deployed at exactly the
    rollout's revision and no other revision of it is left running or deployed; in each cluster
    every object of the release exists once, carries that revision and the rollout's values; no
    revision is marked deployed whose Deployment is not ready."""
    found: list[str] = []
    status = rollout_status(stack, rollout)
    if status != "succeeded":
        found.append(f"rollout {rollout} is {status}")
    targets = stack.sql("SELECT t.service_map_id, t.state, t.release_id, t.revision FROM catalog_rollouttarget t "
                        "WHERE t.rollout_id = %s", rollout)
    by_map = {row[0]: row for row in targets}
    for cluster, sm in scenario.maps.items():
        target = by_map.get(sm["id"])
        if target is None:
            found.append(f"{cluster}: no target")
            continue
        _, state, release_id, number = target
        if state != "healthy":
            found.append(f"{cluster}: target {state}")
        release = stack.sql("SELECT status, revision, deployed_revision FROM catalog_release WHERE id = %s", release_id)
        if release != [("deployed", number, number)]:
            found.append(f"{cluster}: release {release_id} is {release}, expected deployed at {number}")
        revisions = stack.sql("SELECT number, status FROM catalog_revision WHERE release_id = %s ORDER BY number",
                              release_id)
        live = [(n, s) for n, s in revisions if s in ("pending", "applying", "progressing", "deployed")]
        if live != [(number, "deployed")]:
            found.append(f"{cluster}: revisions not settled at {number}: {revisions}")
        found.extend(_cluster_problems(fleet, cluster, sm["namespace"], release_id, number, message))
    return found


def _cluster_problems(fleet: Any, cluster: str, namespace: str, release_id: int, number: int,
                      message: str) -> list[str]:
    found: list[str] = []
    with client_for(fleet, cluster) as kube:
        for kind in KINDS:
            objects = kube.list_objects(kind, namespace, label_selector=f"{RELEASE_LABEL}={release_id}")
            names = [o["metadata"]["name"] for o in objects]
            if len(names) != 1:
                found.append(f"{cluster}: {len(names)} {kind} objects of release {release_id}: {names}")
            for obj in objects:
                revision = (obj["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION)
                if revision != str(number):
                    found.append(f"{cluster}: {kind}/{obj['metadata']['name']} at revision {revision}, not {number}")
                if kind == "ConfigMap" and (obj.get("data") or {}).get("message") != message:
                    found.append(f"{cluster}: ConfigMap holds {obj.get('data')}, not {message!r}")
                if kind == "Deployment":
                    spec, st = obj.get("spec") or {}, obj.get("status") or {}
                    if int(st.get("readyReplicas") or 0) < int(spec.get("replicas") or 0) or \
                            int(st.get("updatedReplicas") or 0) < int(spec.get("replicas") or 0):
                        found.append(f"{cluster}: Deployment marked deployed but not ready: {json.dumps(st)}")
        try:
            kube.get_object("Deployment", f"{RELEASE}-web", namespace, attempts=1)
        except NotFound:
            found.append(f"{cluster}: Deployment {RELEASE}-web missing")
    return found
