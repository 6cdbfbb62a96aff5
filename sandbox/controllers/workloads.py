"""Registry of the workload controllers a ControllerManager runs (one instance of each per cluster)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager


def register_workload_controllers(manager: ControllerManager) -> dict[str, Any]:
    from sandbox.controllers.deployment import DeploymentController
    from sandbox.controllers.endpoints import EndpointsController
    from sandbox.controllers.replicaset import ReplicaSetController

    return {
        "replicasets": ReplicaSetController(manager),
        "deployments": DeploymentController(manager),
        "endpoints": EndpointsController(manager),
    }
