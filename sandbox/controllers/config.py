"""Timing and size knobs of the simulated cluster behaviour.

Real clusters take seconds to minutes (image pulls, 10 s..5 min crash
back-off, 15 s HPA period).  Tests and demos want the same *shapes* sooner, so
every delay lives here, defaulting to "fast but visibly staged".  A cluster can
carry its own ``controller_config`` attribute (the core's fleet may set one);
otherwise :data:`DEFAULT` is used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass
class ControllerConfig:
    # kubelet
    image_pull_seconds: float = 0.4
    """Pending(ContainerCreating) -> image pulled (events Pulling/Pulled)."""
    container_start_seconds: float = 0.6
    """Image pulled -> container Running and Ready (events Created/Started)."""
    crash_run_seconds: float = 1.0
    """How long a ``crashloop`` container runs before it exits with code 1."""
    backoff_base_seconds: float = 1.0
    """First crash/image-pull back-off (real kubelet: 10 s), doubled per restart."""
    backoff_max_seconds: float = 20.0
    """Back-off cap (real kubelet: 300 s)."""
    job_run_seconds: float = 1.5
    """Run time of a run-to-completion container (restartPolicy Never/OnFailure)."""
    # nodes
    node_heartbeat_seconds: float = 30.0
    """Mean period of Ready heartbeats (+-25% jitter per node)."""
    node_leases: bool = True
    """Renew a Lease in kube-node-lease with every heartbeat (like kubelet)."""
    toleration_time_scale: float = 1.0
    """Multiplier on NoExecute ``tolerationSeconds`` before pods on a NotReady node are evicted."""
    # scheduler
    scheduler_retry_seconds: float = 5.0
    """Unschedulable pods are retried at least this often (and on every relevant change)."""
    # controllers
    hpa_sync_seconds: float = 15.0
    """HPA evaluation period (real: 15 s)."""
    hpa_scale_down_window_seconds: float = 300.0
    """Default scale-down stabilization window when the HPA does not set one."""
    endpoints_batch_seconds: float = 0.05
    """Endpoints are recomputed at most this often per Service (coalesces pod churn)."""
    # events
    record_events: bool = True
    """Write Events at all (turn off for bulk benchmarks)."""
    container_creating_status: bool = True
    """Write the intermediate ContainerCreating status (off = one status write per pod start)."""
    scheduled_condition_write: bool = True
    """Write PodScheduled=True at binding time (off = the kubelet's first status write carries it)."""
    max_events: int = 1000
    """Events kept per cluster (oldest deleted first); the real apiserver keeps 1 h."""
    event_ttl_seconds: float = 3600.0


DEFAULT = ControllerConfig()


def fast() -> ControllerConfig:
    """A config for tests: everything an order of magnitude quicker."""
    return replace(DEFAULT, image_pull_seconds=0.1, container_start_seconds=0.15, crash_run_seconds=0.3,
                   backoff_base_seconds=0.3, backoff_max_seconds=3.0, job_run_seconds=0.4,
                   scheduler_retry_seconds=1.0, hpa_sync_seconds=0.5, hpa_scale_down_window_seconds=2.0,
                   endpoints_batch_seconds=0.02)


def bulk() -> ControllerConfig:
    """For benchmarks that create 100,000 pods: no Events, one kubelet status write per pod, quick start."""
    return replace(DEFAULT, record_events=False, container_creating_status=False, scheduled_condition_write=False,
                   image_pull_seconds=0.05, container_start_seconds=0.05)
