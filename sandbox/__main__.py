"""Command line: ``python -m sandbox serve|add-cluster|remove-cluster|fault|list``.

``serve`` runs the fleet in the foreground; the other subcommands talk to a
running fleet through its admin endpoint, found via ``<state-dir>/fleet.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from sandbox.cluster import DEFAULT_VERSION
from sandbox.fleet import PROVIDERS, Fleet, default_cluster_names, seed_demo


def _load_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: config must be a mapping")
    return data


async def _serve(args: argparse.Namespace) -> int:
    cfg = _load_config(args.config)
    fleet = Fleet(args.state_dir, base_port=int(cfg.get("base_port", args.base_port)),
                  admin_port=int(cfg.get("admin_port", args.admin_port)),
                  admin_token=cfg.get("admin_token") or args.admin_token,
                  snapshot=bool(cfg.get("snapshot", args.snapshot)),
                  bookmark_interval=float(cfg.get("bookmark_interval", 60.0)))
    if cfg.get("cluster_api_fast"):  # demo: machines join in 0.3 s instead of 2 s
        from sandbox.capi import fast

        fleet.capi_config = fast()
    await fleet.start()
    specs: list[dict[str, Any]] = list(cfg.get("clusters") or [])
    if not specs and not fleet.clusters:
        specs = [{"name": n, "provider": PROVIDERS[i % len(PROVIDERS)]}
                 for i, n in enumerate(default_cluster_names(args.clusters, args.name_prefix))]
    for spec in specs:
        if spec["name"] in fleet.clusters:
            continue
        c = await fleet.add_cluster(spec["name"], nodes=int(spec.get("nodes", args.nodes)),
                                    provider=str(spec.get("provider", "aws")), region=str(spec.get("region", "")),
                                    version=str(spec.get("version", args.version)),
                                    cluster_api=bool(spec.get("cluster_api", False)))
        seed = spec.get("seed_demo") or args.seed_demo
        if isinstance(seed, dict):  # {profile, crashloop, not_ready_node}
            await seed_demo(c, str(seed.get("profile", "default")), crashloop=bool(seed.get("crashloop")),
                            not_ready_node=bool(seed.get("not_ready_node")))
        elif seed:
            await seed_demo(c)
    for c in fleet.clusters.values():
        print(f"{c.name}: {c.url} kubeconfig={fleet.kubeconfig_path(c.name)} "
              f"cert_kubeconfig={fleet.cert_kubeconfig_path(c.name)}", flush=True)
    print(f"admin: http://{fleet.host}:{fleet.admin_port} (index {fleet.index_path})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fleet.stop()
    return 0


def _admin(state_dir: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    index = json.loads((Path(state_dir) / "fleet.json").read_text())
    if not index.get("running", True):
        raise SystemExit("the fleet in this state directory is not running")
    req = urllib.request.Request(index["admin"]["url"] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {index['admin']['token']}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"admin API error {exc.code}: {exc.read().decode(errors='replace')}") from None


def _on_off(v: str) -> bool:
    if v.lower() in ("on", "true", "1", "yes"):
        return True
    if v.lower() in ("off", "false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError("expected on/off")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox", description="Simulated Kubernetes clusters")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("serve", help="run a fleet in the foreground")
    s.add_argument("--clusters", type=int, default=1)
    s.add_argument("--nodes", type=int, default=3)
    s.add_argument("--state-dir", required=True)
    s.add_argument("--config", help="YAML/JSON: clusters: [{name, provider, region, version, nodes, cluster_api}], "
                                    "base_port, "
                                    "admin_port, snapshot")
    s.add_argument("--seed-demo", action="store_true", help="create a demo namespace with a small app")
    s.add_argument("--base-port", type=int, default=0, help="cluster i listens on base+i (default: any port)")
    s.add_argument("--admin-port", type=int, default=0)
    s.add_argument("--admin-token", default=None)
    s.add_argument("--snapshot", action="store_true", help="save state on shutdown and restore it on start")
    s.add_argument("--version", default=DEFAULT_VERSION)
    s.add_argument("--name-prefix", default="cluster")
    s.add_argument("-v", "--verbose", action="store_true")

    a = sub.add_parser("add-cluster", help="add a cluster to a running fleet")
    a.add_argument("--state-dir", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--nodes", type=int, default=3)
    a.add_argument("--provider", default="aws")
    a.add_argument("--region", default="")
    a.add_argument("--version", default=DEFAULT_VERSION)
    a.add_argument("--cluster-api", action="store_true",
                   help="make it a Cluster API management cluster (CRDs + simulated providers)")

    r = sub.add_parser("remove-cluster", help="remove a cluster from a running fleet")
    r.add_argument("--state-dir", required=True)
    r.add_argument("--name", required=True)

    lst = sub.add_parser("list", help="list the clusters of a running fleet")
    lst.add_argument("--state-dir", required=True)

    f = sub.add_parser("fault", help="inject or clear faults on one cluster")
    f.add_argument("--state-dir", required=True)
    f.add_argument("--cluster", required=True)
    f.add_argument("--latency-ms", type=float)
    f.add_argument("--error-rate", type=float, help="share 0..1 of requests answered with an error")
    f.add_argument("--error-codes", help="comma separated, e.g. 500,503,429")
    f.add_argument("--retry-after", type=int)
    f.add_argument("--blackhole", type=_on_off, metavar="on|off")
    f.add_argument("--stall-watches", type=_on_off, metavar="on|off",
                   help="watch streams go silent and never end; other requests are served")
    f.add_argument("--close-watches", action="store_true")
    f.add_argument("--expire-next-watch", action="store_true", help="next resumed watch gets 410 Gone")
    f.add_argument("--expire-history", action="store_true", help="every resume from an old version gets 410")
    f.add_argument("--down", action="store_true", help="take the endpoint down (connection refused)")
    f.add_argument("--up", action="store_true", help="bring the endpoint back on the same port")
    f.add_argument("--rotate-token", action="store_true", help="new token; kubeconfig rewritten")
    f.add_argument("--clear", action="store_true", help="remove all faults (and bring the endpoint up)")

    args = p.parse_args(argv)
    if args.cmd == "serve":
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return asyncio.run(_serve(args))
    if args.cmd == "add-cluster":
        out = _admin(args.state_dir, "POST", "/clusters", {"name": args.name, "nodes": args.nodes,
                                                            "provider": args.provider, "region": args.region,
                                                            "version": args.version,
                                                            "cluster_api": args.cluster_api})
    elif args.cmd == "remove-cluster":
        out = _admin(args.state_dir, "DELETE", f"/clusters/{args.name}")
    elif args.cmd == "list":
        out = _admin(args.state_dir, "GET", "/clusters")
    else:
        body: dict[str, Any] = {}
        for key in ("latency_ms", "error_rate", "retry_after", "blackhole", "stall_watches"):
            if getattr(args, key) is not None:
                body[key] = getattr(args, key)
        if args.error_codes:
            body["error_codes"] = [int(x) for x in args.error_codes.split(",") if x.strip()]
        if args.expire_next_watch:
            body["expire_next_watch"] = True
        for key in ("close_watches", "expire_history", "down", "up", "rotate_token", "clear"):
            if getattr(args, key):
                body[key] = True
        out = _admin(args.state_dir, "POST", f"/clusters/{args.cluster}/faults", body)
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
