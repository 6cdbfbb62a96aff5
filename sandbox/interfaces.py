"""Protocols shared by the sandbox core and the controllers package.

The HTTP server needs metrics and container logs but does not produce them; the
controllers (``sandbox/controllers``) do.  Both sides type-check against these
protocols so neither has to import the other's internals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sandbox.cluster import SimCluster


@runtime_checkable
class MetricsProvider(Protocol):
    """Source of metrics.k8s.io/v1beta1 items.

    ``node_metrics`` returns ``NodeMetrics`` dicts (kind, apiVersion, metadata
    {name, creationTimestamp, labels}, timestamp, window, usage {cpu, memory});
    ``pod_metrics`` returns ``PodMetrics`` dicts (metadata {name, namespace, ...},
    timestamp, window, containers [{name, usage {cpu, memory}}]) for one
    namespace or all namespaces when ``namespace`` is None.
    """

    def node_metrics(self) -> list[dict[str, Any]]: ...

    def pod_metrics(self, namespace: str | None) -> list[dict[str, Any]]: ...


@runtime_checkable
class LogProvider(Protocol):
    """Source of container log bytes for ``GET .../pods/<name>/log``.

    ``stream`` yields chunks (usually whole lines ending in ``\\n``).  With
    ``follow`` it keeps yielding until the pod goes away or the consumer stops
    iterating; without it, it ends after the existing lines.  ``timestamps``
    prefixes each line with an RFC 3339 timestamp and a space, as kubelet does.
    It may raise :class:`sandbox.errors.ApiError` (e.g. 400 "container x is not
    valid for pod y") before yielding anything.  ``previous`` (kubectl ``-p``) asks for the last
    terminated run of the container (400 "previous terminated container ... not found" without one).
    """

    def stream(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        *,
        follow: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        timestamps: bool,
        previous: bool = False,
    ) -> AsyncIterator[bytes]: ...


@runtime_checkable
class ControllerManagerProtocol(Protocol):
    """What ``sandbox.controllers.ControllerManager(cluster)`` must provide."""

    metrics: MetricsProvider
    logs: LogProvider

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ControllerManagerFactory(Protocol):
    def __call__(self, cluster: SimCluster) -> ControllerManagerProtocol: ...
