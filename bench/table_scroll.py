"""Frame times of the pods tab scrolled through 10,000 pods in headless Chromium: the measurement
of ``tests/browser/test_table_scale.py``, standalone.

Run by hand (never from the test suite), with a built console::

    cd frontend && npx vite build --outDir dist-bench --emptyOutDir && cd ..
    .venv/bin/python bench/table_scroll.py --dist frontend/dist-bench            # 10,000 pods
    .venv/bin/python bench/table_scroll.py --dist frontend/dist-bench --pods 50000 --step 400
    .venv/bin/python bench/table_scroll.py --dist frontend/dist-bench --record   # also write bench/results/table_scroll.json

It creates a database of its own (``bench_table_scroll``, dropped afterwards unless ``--keep``),
fills one cluster's read model with pods through the watcher's projection
(``tests/browser/table_scale.py``), starts uvicorn on it, logs in with Chromium, opens the pods tab
and scrolls the table to the end a fixed distance per animation frame while keyset pages load. It
prints p50/p95/p99 frame time, fps, dropped frames, long animation frames / long tasks and the
number of rows in the DOM. Goal (issue 20): 60 fps, p95 frame <= 16.7 ms. Frame times depend on the
machine and its load: the figures carry the 1-minute load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PORTAL_ENV", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings_test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from clusters.models import Cluster  # noqa: E402
from portal.testing import backend_env, make_user  # noqa: E402
from tests.browser.table_scale import SCROLL_JS, figures, fill_pods  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "table_scroll.json"
BENCH_DB = "bench_table_scroll"
PASSWORD = "correct-horse-battery"
PAGE_SIZE = 200
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(dist: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = backend_env(PORTAL_FRONTEND_DIST=str(dist))
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                if response.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("uvicorn did not start")


def measure(base: str, cluster_id: int, *, pods: int, step: int, width: int, height: int) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="en-US", viewport={"width": width, "height": height}).new_page()
            page.goto(base + "/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.get_by_test_id("ws-status")).to_have_attribute("data-state", "open", timeout=15_000)
            page.goto(f"{base}/clusters/{cluster_id}/pods")
            expect(page.locator("[data-testid^='pod-row-']").first).to_be_visible(timeout=30_000)
            result = page.evaluate(SCROLL_JS, {"testId": "pods-list", "total": pods, "step": step,
                                               "limitMs": 600_000})
        finally:
            browser.close()
    return figures(result, total=pods, page_size=PAGE_SIZE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", type=Path, default=ROOT / "frontend" / "dist", help="the built console")
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--step", type=int, default=240, help="pixels scrolled per animation frame")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--record", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    if not (args.dist / "index.html").is_file():
        raise SystemExit(f"{args.dist} is not a built console (see the docstring)")

    setup_test_environment()
    connection.settings_dict.setdefault("TEST", {})["NAME"] = BENCH_DB
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    server: subprocess.Popen[bytes] | None = None
    try:
        cluster = Cluster.objects.create(name="bench-scroll", server="https://bench.invalid", status="connected",
                                         kubernetes_version="v1.32.4")
        started = time.perf_counter()
        fill_pods(cluster, args.pods)
        print(f"read model: {args.pods:,} pods in {time.perf_counter() - started:.1f} s")
        make_user("bench", role="admin", password=PASSWORD)
        connection.close()  # uvicorn gets the database to itself
        server, base = start_server(args.dist.resolve())
        load_before = round(os.getloadavg()[0], 2)
        found = measure(base, cluster.pk, pods=args.pods, step=args.step, width=args.width, height=args.height)
        out = {"measured": datetime.now(UTC).isoformat(timespec="seconds"),
               "how": f"bench/table_scroll.py: headless Chromium (--headless=new, --disable-gpu), "
                      f"{args.width}x{args.height}, pods tab, {args.step} px per animation frame to the end",
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1m": load_before},
               **found}
        print(json.dumps(out, indent=2))
        fm = found["frame_ms"]
        print(f"\n{found['rows_loaded']:,} rows, {found['frames']} frames in {found['elapsed_s']} s: "
              f"{found['fps']} fps, frame p50 {fm['p50']} / p95 {fm['p95']} / p99 {fm['p99']} ms, "
              f"{found['dropped_frames']} dropped, at most {found['dom_rows']['max']} rows in the DOM "
              f"({'meets' if found['meets_goal'] else 'misses'} 60 fps; load {load_before})")
        if args.record:
            RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
