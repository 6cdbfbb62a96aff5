"""Programs the sandbox's kubelet really runs, chosen by a container's image: the portal's build
pods (git clone, BuildKit or Buildah build and push, Trivy scan).

Why: the sandbox cannot run containers, but the builds feature must be tested end to end against
a real git server and a real registry. Each program reproduces one image's behaviour at its
interface (arguments, environment, mounted files, log, exit code, termination message) and does
the real work in Python or with the real ``git`` binary. Any other container keeps the kubelet's
naming-rule simulation. See "Builder, clone and scanner pods" in ``sandbox/README.md``.
"""

from __future__ import annotations

from typing import Any, Protocol

from sandbox.programs.runtime import ProgramContext


class Program(Protocol):
    name: str

    def matches(self, container: dict[str, Any]) -> bool:
        """Whether this program simulates ``container`` (image and command/env shape)."""

    def run(self, ctx: ProgramContext) -> int:
        """Do the work (in a thread, off the event loop) and return the exit code."""


def image_repository(image: str) -> str:
    """``quay.io/buildah/stable:v1.37.3`` → ``quay.io/buildah/stable``; ``alpine/git@sha256:…`` → ``alpine/git``."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    return ref


def repo_is(image: str, *names: str) -> bool:
    """Whether the image's repository is one of ``names`` (on any registry host: mirrors count)."""
    repo = image_repository(image)
    return any(repo == n or repo.endswith("/" + n) for n in names)


def env_names(container: dict[str, Any]) -> set[str]:
    return {str(e.get("name")) for e in container.get("env") or [] if e.get("name")}


def find_program(container: dict[str, Any]) -> Program | None:
    from sandbox.programs.buildah import Buildah
    from sandbox.programs.buildkit import BuildKit
    from sandbox.programs.clone import Clone
    from sandbox.programs.trivy import Trivy

    for program in (Clone(), BuildKit(), Buildah(), Trivy()):
        if program.matches(container):
            return program
    return None
