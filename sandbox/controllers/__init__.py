"""Simulated cluster behaviour for the sandbox: scheduler, kubelets, controllers, metrics and logs.

``sandbox.cluster.SimCluster`` looks up :class:`ControllerManager` here and
runs one per cluster.  See ``README.md`` in this package for what is simulated
and the naming rules that make containers crash, fail or not pull.
"""

from sandbox.controllers.config import ControllerConfig
from sandbox.controllers.manager import ControllerManager

__all__ = ["ControllerConfig", "ControllerManager"]
