"""Runs INSIDE the previous release's source tree (``tests/upgrade/test_previous_release.py``
starts it with that tree first on ``sys.path``): Django set up from the old code, against the
database the new code migrated and filled. Reads the JSON request list on stdin (``[[persona,
method, path, body], ...]`` plus the API tokens) and prints one JSON line of results: per request
its status and, for a JSON answer, the ids it lists, so the test can check the old code sees the
new code's rows. Kept free of imports from the new tree: only the standard library and what the
old tree provides."""

from __future__ import annotations

import json
import sys


def main() -> None:
    spec = json.loads(sys.stdin.read())
    import django

    django.setup()
    from django.test import Client

    import portal

    assert portal.__file__.startswith(spec["tree"]), f"not the previous release's code: {portal.__file__}"
    results = []
    for persona, method, path, body in spec["requests"]:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {spec['tokens'][persona]}")
        response = client.generic(method, path, json.dumps(body) if body is not None else "",
                                  content_type="application/json", HTTP_ACCEPT="application/json")
        entry: dict[str, object] = {"persona": persona, "method": method, "path": path,
                                    "status": response.status_code}
        if response.get("Content-Type", "").startswith("application/json"):
            data = json.loads(response.content or b"null")
            rows = data.get("results", data) if isinstance(data, dict) else data
            if isinstance(rows, list):
                entry["ids"] = [r.get("id") for r in rows if isinstance(r, dict)]
            elif isinstance(data, dict):
                entry["id"] = data.get("id")
                entry["keys"] = sorted(data)[:40]
            if response.status_code >= 400:
                entry["body"] = json.dumps(data)[:500]
        else:
            entry["body"] = response.content[:300].decode(errors="replace")
        results.append(entry)
    print("@@results@@" + json.dumps(results))


if __name__ == "__main__":
    main()
