"""Where another app joins the catalog's release path for container images: a gate that may refuse
a deploy because of an image, and pull secrets that images from a private registry need.

The catalog knows nothing of registries or scans (builds does, and builds sits above the catalog),
so builds registers two functions here when it starts (``builds.deploy_step.install``):

* the **gate** ``(user | None, service map, images) -> [problem, …]``, asked by
  :func:`catalog.releases.check` for every image a revision brings in (one the release does not
  run already); any problem refuses the revision with 400 ``image_blocked_by_scan``;
* the **pull secrets**: ``names(service map, images) -> {image: secret name}`` (the images that
  need a secret to be pulled), whose names :func:`catalog.releases.check` adds to the pod specs'
  ``imagePullSecrets``; and ``ensure(service map, secret names, client)``, which the deploy task
  calls with its open cluster client before it applies the revision, so the Secret exists before
  a pod asks for it.

Nothing registered (builds not installed, or a unit test): no gate, no pull secrets. Pure: no
imports from the rest of the portal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

Gate = Callable[[Any, Any, list[str]], list[str]]
Names = Callable[[Any, list[str]], dict[str, str]]
Ensure = Callable[[Any, list[str], Any], None]

_gate: Gate | None = None
_names: Names | None = None
_ensure: Ensure | None = None

PULL_SECRET_PREFIX = "portal-pull-"
BLOCKED_CODE = "image_blocked_by_scan"


def set_image_gate(fn: Gate | None) -> None:
    global _gate
    _gate = fn


def set_pull_secrets(names_fn: Names | None, ensure_fn: Ensure | None) -> None:
    global _names, _ensure
    _names, _ensure = names_fn, ensure_fn


def has_gate() -> bool:
    return _gate is not None


def registered() -> tuple[Gate | None, Names | None, Ensure | None]:
    """What is registered now (a test that installs the hooks puts these back afterwards)."""
    return _gate, _names, _ensure


# ---------------------------------------------------------------------------- pod specs and images


def pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pod specs of an object: a Pod's own, a workload's template, a CronJob's job template."""
    if not isinstance(obj, dict):
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    kind = obj.get("kind")
    if kind == "Pod":
        yield spec
        return
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        if not isinstance(spec, dict):
            return
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        yield template["spec"]


def pod_images(pod: dict[str, Any]) -> list[str]:
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod.get(key) or []:
            image = container.get("image") if isinstance(container, dict) else None
            if isinstance(image, str) and image:
                out.append(image)
    return out


def images_of(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Every image the objects' pods run, each once, in order of appearance."""
    seen: dict[str, None] = {}
    for obj in objects:
        for pod in pod_specs(obj):
            for image in pod_images(pod):
                seen.setdefault(image, None)
    return list(seen)


def pull_secret_names(objects: Iterable[dict[str, Any]]) -> list[str]:
    """The portal's pull secrets (``portal-pull-…``) the objects' pods name."""
    seen: dict[str, None] = {}
    for obj in objects:
        for pod in pod_specs(obj):
            for ref in pod.get("imagePullSecrets") or []:
                name = ref.get("name") if isinstance(ref, dict) else None
                if isinstance(name, str) and name.startswith(PULL_SECRET_PREFIX):
                    seen.setdefault(name, None)
    return list(seen)


# ---------------------------------------------------------------------------- called by the catalog


_answers: ContextVar[dict[Hashable, Any] | None] = ContextVar("catalog_image_hook_answers", default=None)


@contextlib.contextmanager
def same_answers() -> Iterator[None]:
    """Inside the block, the gate and the pull secrets answer once per workspace and set of
    images: both read only the workspace's scan policy, registries and allocations, so a rollout
    that plans many targets of one workspace asks them once, not once per target."""
    token = _answers.set({})
    try:
        yield
    finally:
        _answers.reset(token)


def _answer(key: Hashable, ask: Callable[[], Any]) -> Any:
    answers = _answers.get()
    if answers is None:
        return ask()
    if key not in answers:
        answers[key] = ask()
    return answers[key]


def gate(user: Any, sm: Any, objects: list[dict[str, Any]], *, running: Iterable[str] = ()) -> list[str]:
    """Problems with the images ``objects`` bring in (``running``: images the release runs already,
    not deployed anew by this revision)."""
    fn = _gate
    if fn is None:
        return []
    already = set(running)
    images = [i for i in images_of(objects) if i not in already]
    if not images:
        return []
    return list(_answer(("gate", getattr(user, "pk", None), sm.workspace_id, tuple(images)),
                        lambda: list(fn(user, sm, images))))


def add_pull_secrets(sm: Any, objects: list[dict[str, Any]]) -> list[str]:
    """Name the pull secrets in the pod specs whose images need them (in place, each name once per
    pod); returns the names added anywhere."""
    if _names is None:
        return []
    images = images_of(objects)
    names = _names
    secrets = _answer(("names", sm.workspace_id, tuple(images)), lambda: names(sm, images)) if images else {}
    if not secrets:
        return []
    added: dict[str, None] = {}
    for obj in objects:
        for pod in pod_specs(obj):
            wanted = [secrets[i] for i in pod_images(pod) if i in secrets]
            if not wanted:
                continue
            refs = pod.get("imagePullSecrets")
            refs = list(refs) if isinstance(refs, list) else []
            have = {r.get("name") for r in refs if isinstance(r, dict)}
            for name in dict.fromkeys(wanted):
                if name not in have:
                    refs.append({"name": name})
                    have.add(name)
                added.setdefault(name, None)
            pod["imagePullSecrets"] = refs
    return list(added)


def ensure_pull_secrets(sm: Any, objects: list[dict[str, Any]], client: Any) -> None:
    """Before a revision is applied: make sure the pull secrets its pods name exist and are current."""
    if _ensure is None:
        return
    names = pull_secret_names(objects)
    if names:
        _ensure(sm, names, client)
