"""What a revision changed, object by object, and whether a changed ConfigMap or Secret reached
the pods that use it (issue 22).

An upgrade that changes only a ConfigMap value leaves the Deployments' pod templates as they
were, so Kubernetes rolls nothing: the same pods keep running with the old environment (values
read from files are refreshed by the kubelet after a while; environment variables never). The
release page shows, per revision, the objects added, changed and removed since the revision
before it and, for each changed ConfigMap or Secret, the workloads of the release that use it and
whether this revision changed their pod template (so their pods were replaced). The console
offers the Config tab's restart for those that were not.

Pure: works on the stored manifests; nothing here reads the cluster.
"""

from __future__ import annotations

from typing import Any

import yaml

from catalog.config import RESTARTABLE, _uses


def _key(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def _objects(manifest: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(manifest or ""):
        if isinstance(doc, dict) and doc.get("kind"):
            out[_key(doc)] = doc
    return out


def _comparable(obj: dict[str, Any], annotation: str) -> dict[str, Any]:
    """The object without the annotation every apply stamps (the revision number)."""
    meta = dict(obj.get("metadata") or {})
    meta["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items() if k != annotation}
    return {**obj, "metadata": meta}


def _template(obj: dict[str, Any] | None) -> Any:
    return ((obj or {}).get("spec") or {}).get("template")


def revision_changes(previous: str | None, current: str, *, revision_annotation: str) -> list[dict[str, Any]]:
    """``[{object, change: added|changed|removed, users?: [{workload, restarted}]}]``, sorted by
    object. ``previous`` is the manifest of the revision before (None for the first: every
    object is added). ``revision_annotation`` is the annotation every apply stamps (ignored)."""
    before, after = _objects(previous or ""), _objects(current)
    out: list[dict[str, Any]] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is None:
            out.append({"object": key, "change": "added"})
        elif new is None:
            out.append({"object": key, "change": "removed"})
        elif _comparable(old, revision_annotation) != _comparable(new, revision_annotation):
            entry: dict[str, Any] = {"object": key, "change": "changed"}
            kind, name = key.split("/", 1)
            if previous is not None and kind in ("ConfigMap", "Secret"):
                users = []
                for wkey, workload in after.items():
                    if wkey.split("/", 1)[0] not in RESTARTABLE:
                        continue
                    pod = (_template(workload) or {}).get("spec") or {}
                    if _uses(pod, kind, name):
                        users.append({"workload": wkey,
                                      "restarted": _template(before.get(wkey)) != _template(workload)})
                entry["users"] = users
            out.append(entry)
    return out
