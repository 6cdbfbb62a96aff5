"""A faithful slice of Cluster API (v1beta1) for the sandbox: a cluster of the fleet created with
``cluster_api=True`` serves the Cluster API CRDs and runs simulated providers (core, kubeadm
bootstrap and control plane, and the sandbox's own infrastructure provider), so provisioning a
cluster through the Kubernetes API starts a new simulated cluster in the same fleet.  See the
"Cluster API" section of ``sandbox/README.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.capi.config import CapiConfig, fast, for_controllers

if TYPE_CHECKING:
    from sandbox.capi.provider import CapiProvider
    from sandbox.cluster import SimCluster
    from sandbox.fleet import Fleet

__all__ = ["CapiConfig", "enable", "fast"]


async def enable(fleet: Fleet, cluster: SimCluster, config: Any = None) -> CapiProvider:
    """Install the CRDs in ``cluster`` and start its Cluster API controllers."""
    from sandbox.capi.provider import CapiProvider

    provider = CapiProvider(fleet, cluster, for_controllers(config))
    await provider.start()
    return provider
