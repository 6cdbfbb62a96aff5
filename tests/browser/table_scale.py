"""The pods-tab scroll measurement shared by ``tests/browser/test_table_scale.py`` and
``bench/table_scroll.py``: a cluster's read model filled with pods through the watcher's own
projection, the scripted scroll the browser runs (frame times from ``requestAnimationFrame``,
long animation frames and long tasks from ``PerformanceObserver``), and the figures made of it.
"""

from __future__ import annotations

import datetime
import statistics
from typing import Any

NAMESPACES = 20
NODES = 50
FRAME_BUDGET_MS = 1000 / 60  # 60 fps


def pod_object(i: int, now: datetime.datetime) -> dict[str, Any]:
    """A pod as the API server serves it (the fields the projection reads)."""
    name = f"pod-{i:05d}"
    restarts = 3 if i % 50 == 0 else 0
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": f"scale-{i % NAMESPACES:02d}", "uid": f"uid-{i}",
                     "resourceVersion": str(i + 1), "labels": {"app": f"app-{i % 100:03d}", "tier": "web"},
                     "creationTimestamp": (now - datetime.timedelta(minutes=i % 1440)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                          "name": f"app-{i % 100:03d}-7d9c5b", "uid": f"rs-{i % 100}"}]},
        "spec": {"nodeName": f"node-{i % NODES:02d}", "containers": [{
            "name": "web", "image": "nginx:1.27",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}]},
        "status": {"phase": "Running", "podIP": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                   "hostIP": "192.168.0.1", "qosClass": "Burstable", "startTime": "2026-01-01T00:00:00Z",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "web", "ready": True, "restartCount": restarts,
                                          "image": "nginx:1.27", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]},
    }


def fill_pods(cluster: Any, count: int) -> str:
    """``count`` pods in ``cluster``'s read model, each row made by the watcher's projection
    (:func:`clusters.watcher.projection.project`) and bulk-inserted, with the per-kind sync rows a
    synced cluster has. Returns the test id of the row the default ordering puts last."""
    from django.utils import timezone

    from clusters.kube.kinds import WATCHED_KINDS
    from clusters.models import KindSync, KubeObject
    from clusters.watcher.projection import project

    now = timezone.now()
    KindSync.objects.bulk_create([
        KindSync(cluster=cluster, kind=k.kind, state="synced", last_event=now, last_list=now,
                 object_count=count if k.kind == "Pod" else 0)
        for k in WATCHED_KINDS
    ], ignore_conflicts=True)
    batch: list[Any] = []
    for i in range(count):
        batch.append(KubeObject(cluster=cluster, **project("Pod", pod_object(i, now))))
        if len(batch) >= 2000:
            KubeObject.objects.bulk_create(batch)
            batch = []
    KubeObject.objects.bulk_create(batch)
    last = max(range(count), key=lambda i: (f"scale-{i % NAMESPACES:02d}", f"pod-{i:05d}"))
    return f"pod-row-scale-{last % NAMESPACES:02d}/pod-{last:05d}"


# Scrolls the pods table to its end, a fixed distance per animation frame (a fast, steady
# fling), while the table loads page after page; records each frame's interval, the number of
# body rows in the DOM, and long animation frames / long tasks. Resolves when every row is loaded
# and the box is scrolled to the bottom (or after `limitMs`).
SCROLL_JS = """
async ({ testId, total, step, limitMs }) => {
  const box = document.querySelector(`[data-testid="${testId}-scroll"]`);
  const table = document.querySelector(`[data-testid="${testId}"]`);
  if (!box || !table) throw new Error('no table ' + testId);
  const loafs = [], longtasks = [];
  const observers = [];
  for (const [type, sink] of [['long-animation-frame', loafs], ['longtask', longtasks]]) {
    if (!(PerformanceObserver.supportedEntryTypes || []).includes(type)) continue;
    const o = new PerformanceObserver((list) => { for (const e of list.getEntries()) sink.push(e.duration); });
    o.observe({ type, buffered: false });
    observers.push(o);
  }
  const frames = [];
  let maxRows = 0, sumRows = 0, samples = 0;
  const start = performance.now();
  let last = start;
  await new Promise((resolve) => {
    const tick = (now) => {
      frames.push(now - last);
      last = now;
      const rows = table.querySelectorAll('tbody tr.dt-row').length;
      maxRows = Math.max(maxRows, rows); sumRows += rows; samples += 1;
      const loaded = Number(table.dataset.rows || 0);
      const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 2;
      if ((loaded >= total && atEnd) || now - start > limitMs) { resolve(); return; }
      box.scrollTop += step;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame((now) => { last = now; requestAnimationFrame(tick); });
  });
  // Two more frames so the last rows render, then stop observing.
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (const o of observers) o.disconnect();
  return {
    frames: frames.slice(1), loafs, longtasks, maxRows, meanRows: sumRows / Math.max(1, samples),
    loaded: Number(table.dataset.rows || 0), elapsedMs: performance.now() - start,
    scrollHeight: box.scrollHeight, supported: PerformanceObserver.supportedEntryTypes || [],
  };
}
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def figures(result: dict[str, Any], *, total: int, page_size: int) -> dict[str, Any]:
    """The measurement as the figures docs/performance.md reports."""
    frames = [float(f) for f in result["frames"]]
    elapsed_s = float(result["elapsedMs"]) / 1000
    # A frame that took n vsync intervals dropped n - 1 of them.
    dropped = sum(max(0, round(f / FRAME_BUDGET_MS) - 1) for f in frames)
    return {
        "rows_total": total,
        "rows_loaded": int(result["loaded"]),
        "page_size": page_size,
        "frames": len(frames),
        "elapsed_s": round(elapsed_s, 2),
        "fps": round(len(frames) / elapsed_s, 1) if elapsed_s else 0.0,
        "frame_ms": {"p50": round(percentile(frames, 50), 2), "p95": round(percentile(frames, 95), 2),
                     "p99": round(percentile(frames, 99), 2), "max": round(max(frames, default=0.0), 2),
                     "mean": round(statistics.fmean(frames), 2) if frames else 0.0},
        "dropped_frames": dropped,
        "dropped_ratio": round(dropped / max(1, dropped + len(frames)), 4),
        "long_animation_frames": {"count": len(result["loafs"]),
                                  "max_ms": round(max(result["loafs"], default=0.0), 1)},
        "long_tasks": {"count": len(result["longtasks"]), "max_ms": round(max(result["longtasks"], default=0.0), 1)},
        "dom_rows": {"max": int(result["maxRows"]), "mean": round(float(result["meanRows"]), 1)},
        "scroll_height_px": int(result["scrollHeight"]),
        "goal": {"fps": 60, "p95_frame_ms": round(FRAME_BUDGET_MS, 1)},
        "meets_goal": percentile(frames, 95) <= FRAME_BUDGET_MS + 0.5,
    }
