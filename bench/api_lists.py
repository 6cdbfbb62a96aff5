"""Benchmark of the clusters list APIs over a full read model: the cluster list, and filtered,
sorted 100-row pages of pods out of a cluster holding 100,000.

Run by hand (never from the test suite)::

    .venv/bin/python bench/api_lists.py                 # 100 clusters, 100k pods in one + 1k in each other
    .venv/bin/python bench/api_lists.py --pods 20000    # a quicker look

It creates a database of its own (``bench_api_lists``, dropped afterwards unless ``--keep``),
bulk-inserts the read model directly (clusters with summaries, KindSync rows, nodes and pods, as
the watcher would leave them), runs ANALYZE, then times requests through the whole Django stack
(middleware, authentication, DRF, serialisation) with the test client. Goals (issue 4): cluster
list p99 <= 100 ms; filtered, sorted 100-row pod page p99 <= 300 ms. Results are printed and
written to ``bench/results/api_lists.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PORTAL_ENV", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings_test")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from clusters.kube.kinds import WATCHED_KINDS  # noqa: E402
from clusters.models import Cluster, KindSync, KubeObject  # noqa: E402
from portal.testing import make_user  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "api_lists.json"
BENCH_DB = "bench_api_lists"
NAMESPACES = 20
NODES = 200
PHASES = ["Running"] * 17 + ["Pending", "Succeeded", "Failed"]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary_for(i: int, pods: int) -> dict[str, Any]:
    nodes = 3 + i % 20
    return {
        "nodes_ready": nodes - (i % 3 == 0), "nodes_total": nodes, "services": 10 + i, "workloads": 20 + i,
        "cpu": {"capacity": nodes * 8.0, "allocatable": nodes * 7.8, "requested": nodes * 2.5},
        "memory": {"capacity": nodes * 32 * 2**30, "allocatable": nodes * 31 * 2**30, "requested": nodes * 8 * 2**30},
        "disk": {"capacity": nodes * 100 * 2**30, "allocatable": nodes * 95 * 2**30},
        "pods": {"running": int(pods * 0.85), "total": pods, "capacity": nodes * 110},
    }


def fill(*, clusters: int, big_pods: int, other_pods: int) -> tuple[int, int]:
    """Insert the read model; returns (big cluster id, rows inserted)."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    providers = ["eks", "gke", "aks", "ncp", "onprem", "other"]
    rows = 0
    big_id = 0
    for i in range(clusters):
        pods = big_pods if i == 0 else other_pods
        cluster = Cluster.objects.create(
            name=f"bench-{i:03d}", display_name=f"Bench {i}", provider=providers[i % len(providers)],
            region=f"region-{i % 7}", stage=["dev", "stage", "prod"][i % 3], labels={"team": f"t{i % 5}"},
            server=f"https://bench-{i}.example.com", status="unreachable" if i % 10 == 9 else "connected",
            kubernetes_version="v1.32.4",
            last_sync=now - timedelta(seconds=i), summary=summary_for(i, pods),
        )
        if i == 0:
            big_id = cluster.pk
        KindSync.objects.bulk_create([
            KindSync(cluster=cluster, kind=k.kind, state="synced", last_event=now, last_list=now, object_count=10)
            for k in WATCHED_KINDS
        ])
        node_count = NODES if i == 0 else 5
        KubeObject.objects.bulk_create([
            KubeObject(cluster=cluster, kind="Node", name=f"node-{n:03d}", uid=f"n-{i}-{n}", resource_version="1",
                       phase="Ready", created=now, data={"ready": True, "capacity": {"cpu": 8.0, "pods": 110}})
            for n in range(node_count)
        ])
        batch: list[KubeObject] = []
        for p in range(pods):
            app = p // 100
            phase = rng.choice(PHASES)
            batch.append(KubeObject(
                cluster=cluster, kind="Pod", namespace=f"ns-{p % NAMESPACES:02d}", name=f"web-{app:04d}-{p:06d}",
                uid=f"p-{i}-{p}", resource_version=str(p), node_name=f"node-{rng.randrange(node_count):03d}",
                phase=phase, created=now - timedelta(seconds=rng.randrange(86400 * 30)),
                labels={"app": f"web-{app % 500:03d}", "tier": rng.choice(["frontend", "backend", "batch"]),
                        "pod-template-hash": "7d9c5b"},
                data={"status_text": phase, "ready": "1/1", "restarts": rng.choice([0] * 8 + [1, 2, 5, 30]),
                      "requests": {"cpu": 0.25, "memory": 268435456}, "containers": [
                          {"name": "web", "image": "nginx:1.27", "ready": True, "restart_count": 0,
                           "state": "running", "reason": ""}],
                      "pod_ip": f"10.{p // 65536 % 256}.{p // 256 % 256}.{p % 256}", "qos_class": "Burstable",
                      "owner": {"kind": "ReplicaSet", "name": f"web-{app:04d}-7d9c5b"}},
            ))
            if len(batch) >= 5000:
                KubeObject.objects.bulk_create(batch)
                rows += len(batch)
                batch = []
        KubeObject.objects.bulk_create(batch)
        rows += len(batch) + node_count
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clusters_kubeobject; ANALYZE clusters_cluster; ANALYZE clusters_kindsync")
    return big_id, rows


def timed(client: APIClient, url: str, runs: int) -> dict[str, Any]:
    durations: list[float] = []
    status = 0
    count = 0
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        durations.append((time.perf_counter() - start) * 1000)
        status = response.status_code
        count = len(response.json()["results"])
    return {"url": url, "status": status, "rows": count, "runs": runs,
            "p50_ms": round(statistics.median(durations), 2), "p90_ms": round(percentile(durations, 90), 2),
            "p99_ms": round(percentile(durations, 99), 2),
            "max_ms": round(max(durations), 2)}


def deep_cursor(client: APIClient, url: str, pages: int) -> str:
    """The ``next`` URL after following ``pages`` pages (or the last page's), to time a deep page."""
    for _ in range(pages):
        following = client.get(url).json()["next"]
        if following is None:
            break
        url = following
    return url.replace("http://testserver", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--pods", type=int, default=100_000, help="pods in the big cluster")
    parser.add_argument("--other-pods", type=int, default=1_000, help="pods in each other cluster")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = BENCH_DB
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        big, rows = fill(clusters=args.clusters, big_pods=args.pods, other_pods=args.other_pods)
        fill_seconds = time.perf_counter() - started
        print(f"read model: {args.clusters} clusters, {rows:,} rows in {fill_seconds:.1f} s")

        load_before = round(os.getloadavg()[0], 2)
        client = APIClient()
        client.force_authenticate(make_user("bench", role="operator"))
        pods = f"/api/clusters/{big}/pods/?page_size=100"
        cluster_cases = [
            "/api/clusters/?page_size=100",
            "/api/clusters/?page_size=100&ordering=-cpu_capacity",
            "/api/clusters/?page_size=50&status=connected&ordering=-nodes_ready",
        ]
        pod_cases = [
            f"{pods}&namespace=ns-07&phase=Running&ordering=-created",
            f"{pods}&label_selector=tier=frontend,app!=web-001&ordering=name",
            f"{pods}&label_selector=app in (web-042,web-043)&ordering=-restarts",
            f"{pods}&node=node-017&ordering=name",
            f"{pods}&phase=Running&ordering=phase",
            f"{pods}&name_prefix=web-001&ordering=name",
            f"{pods}&ordering=namespace",
        ]
        for _ in range(3):  # warm caches and connections
            for url in cluster_cases + pod_cases:
                client.get(url)
        deep = [deep_cursor(client, f"{pods}&phase=Running&ordering=-created", 300),
                deep_cursor(client, f"{pods}&ordering=phase", 500)]
        results = {
            "cluster_list": [timed(client, url, args.runs) for url in cluster_cases],
            "pod_pages": [timed(client, url, args.runs) for url in pod_cases + deep],
        }
        worst_clusters = max(r["p99_ms"] for r in results["cluster_list"])
        worst_pods = max(r["p99_ms"] for r in results["pod_pages"])
        report = {
            "benchmark": "bench/api_lists.py",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count(), "load_average_1m_before": load_before,
                        "load_average_1m_after": round(os.getloadavg()[0], 2),
                        "note": "shared machine: other processes were running; p99 includes their contention"},
            "read_model": {"clusters": args.clusters, "pods_in_big_cluster": args.pods,
                           "pods_in_each_other_cluster": args.other_pods, "rows": rows,
                           "fill_seconds": round(fill_seconds, 1)},
            "method": "Django test client through the full middleware/DRF stack, authenticated operator; "
                      f"{args.runs} requests per URL after warm-up; deep pages follow 300/500 cursors first",
            "goals_ms": {"cluster_list_p99": 100, "pod_page_p99": 300},
            "cluster_list_p99_ms": worst_clusters,
            "pod_page_p99_ms": worst_pods,
            "met": {"cluster_list": worst_clusters <= 100, "pod_page": worst_pods <= 300},
            **results,
        }
        for section in ("cluster_list", "pod_pages"):
            for r in results[section]:
                print(f"{r['p50_ms']:7.1f} p50 {r['p90_ms']:7.1f} p90 {r['p99_ms']:7.1f} p99 (ms)  {r['rows']:4d} rows  "
                      f"{r['url']}")
        print(f"cluster list p99 {worst_clusters} ms (goal 100); pod page p99 {worst_pods} ms (goal 300)")
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"written to {RESULTS}")
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
