"""Timings of the simulated Cluster API providers (like :mod:`sandbox.controllers.config`).

Real machines take minutes to boot; the sandbox keeps the shape (Pending → Provisioning →
Provisioned → Running) and shrinks the time.  ``provision_seconds`` is the default delay before a
Machine's Node joins (a SandboxMachineTemplate's ``provisionSeconds`` overrides it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class CapiConfig:
    provision_seconds: float = 2.0
    """Bootstrap data ready → the Node joins the new cluster (infrastructure ready at 3/4 of it)."""
    drain_retry_seconds: float = 1.0
    """How often a draining Machine retries evictions a PodDisruptionBudget refused."""
    resync_seconds: float = 10.0
    """Periodic re-check of every object (catches what no event announces)."""


DEFAULT = CapiConfig()


def fast() -> CapiConfig:
    """For tests: machines join in 0.3 s, drains retry every 0.1 s."""
    return replace(DEFAULT, provision_seconds=0.3, drain_retry_seconds=0.1, resync_seconds=2.0)


def for_controllers(controller_config: Any) -> CapiConfig:
    """The Cluster API timings that go with the fleet's ``controller_config``: :func:`fast` when the
    workload controllers run fast (``sandbox.controllers.config.fast()``/``bulk()``), else :data:`DEFAULT`."""
    if isinstance(controller_config, CapiConfig):
        return controller_config
    if controller_config is None:
        return DEFAULT
    from sandbox.controllers.config import DEFAULT as WORKLOAD_DEFAULT

    pull = getattr(controller_config, "image_pull_seconds", WORKLOAD_DEFAULT.image_pull_seconds)
    return fast() if pull < WORKLOAD_DEFAULT.image_pull_seconds else DEFAULT
