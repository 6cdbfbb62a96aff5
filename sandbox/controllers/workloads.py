"""Registry of the workload controllers a ControllerManager runs (one instance of each per cluster)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.controllers.manager import ControllerManager


def register_workload_controllers(manager: ControllerManager) -> dict[str, Any]:
    from sandbox.controllers.daemonset import DaemonSetController
    from sandbox.controllers.deployment import DeploymentController
    from sandbox.controllers.disruption import DisruptionController
    from sandbox.controllers.endpoints import EndpointsController
    from sandbox.controllers.hpa import HPAController
    from sandbox.controllers.jobs import CronJobController, JobController
    from sandbox.controllers.replicaset import ReplicaSetController
    from sandbox.controllers.statefulset import StatefulSetController
    from sandbox.controllers.volumes import VolumeController

    return {
        "replicasets": ReplicaSetController(manager),
        "deployments": DeploymentController(manager),
        "statefulsets": StatefulSetController(manager),
        "daemonsets": DaemonSetController(manager),
        "jobs": JobController(manager),
        "cronjobs": CronJobController(manager),
        "hpa": HPAController(manager),
        "endpoints": EndpointsController(manager),
        "volumes": VolumeController(manager),
        "disruption": DisruptionController(manager),
    }
