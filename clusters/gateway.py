"""The one gateway for reads a view must make of a cluster live (issue 12).

A person is waiting on these reads (a pod's live object, a drain preview, the resource browser,
a service map's ConfigMaps and Secrets), so each view's reads of one cluster share **one strict
time budget** (``PORTAL_VIEW_READ_BUDGET`` seconds): the budget is a deadline for the whole view,
connecting included, every request gets at most what is left of it, and nothing is retried (a
retry would only spend the budget twice). A blackholed or overloaded cluster therefore costs a
request at most the budget, never a worker held for the client layer's default timeouts.

Failures leave here as the portal's own errors (:mod:`portal.errors`), so every view answers the
same way: a cluster that does not answer in time is ``503 cluster_timeout``, one that cannot be
reached ``503 cluster_unreachable`` (``params``: ``cluster``, ``reason``, the client layer's code
such as ``connection_refused``, and ``server``/``error`` as in the cluster's status message), the cluster's own 403 a ``Forbidden`` with the explanation
code of :mod:`clusters.kube.messages`, its 404 a ``NotFound``, anything else a ``502``.

This is the only place a view gets a live client: views import this module, never
``clusters.kube.client`` (an import contract in ``.importlinter`` says so). Operations that change
a cluster go through intents and tasks, not through here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings

from clusters.kube import errors as kube
from clusters.kube.client import KubeClient
from clusters.kube.connection import ConnectionSpec
from clusters.kube.messages import explain
from clusters.models import Cluster
from portal import errors
from portal.crypto import DecryptionError

T = TypeVar("T")
DEFAULT_BUDGET = 5.0  # what registration's probe waits (PORTAL_CLUSTER_PROBE_TIMEOUT's default)


def budget() -> float:
    """Seconds all the live reads of one view may take together."""
    return float(getattr(settings, "PORTAL_VIEW_READ_BUDGET", DEFAULT_BUDGET))


class _BudgetedClient(KubeClient):
    """A client whose every request gets what is left of one deadline, once (no retries).

    The client layer's retry loop and its timeouts stay where they are; this only narrows them:
    ``connect_timeout`` (also used by the client-certificate check after a failed connection)
    and each request's (connect, read) limits never exceed the time left."""

    def __init__(self, spec: ConnectionSpec, *, deadline: float, budget: float) -> None:
        self._deadline = deadline
        self.budget = budget
        self._connect = budget
        super().__init__(spec, connect_timeout=budget, read_timeout=budget, pool_maxsize=1)

    def left(self) -> float:
        return self._deadline - time.monotonic()

    @property
    def connect_timeout(self) -> float:
        return max(0.01, min(self._connect, self.left()))

    @connect_timeout.setter
    def connect_timeout(self, value: float) -> None:
        self._connect = value

    def call(self, fn: Callable[..., T], *args: Any, attempts: int = 1, timeout: float | None = None,
             **kwargs: Any) -> T:
        left = self.left()
        if left <= 0:
            raise kube.ReadTimeout(f"The API server ({self.spec.server}) sent no answer within {self.budget:g} s.")
        limit = min(timeout or self.read_timeout, left)
        kwargs["_request_timeout"] = (min(self.connect_timeout, limit), limit)
        return super().call(fn, *args, attempts=1, timeout=limit, **kwargs)


class LiveRead:
    """One view's live reads of one cluster, under one deadline that starts when the read does.
    The client is built on first use, so a view that ends up answering from the read model
    neither decrypts credentials nor resolves the server."""

    def __init__(self, cluster: Cluster, *, seconds: float | None = None) -> None:
        self.cluster = cluster
        self.budget = seconds if seconds is not None else budget()
        self.deadline = time.monotonic() + self.budget
        self._client: _BudgetedClient | None = None

    @property
    def client(self) -> KubeClient:
        if self._client is None:
            self._client = _BudgetedClient(self.cluster.connection_spec(), deadline=self.deadline,
                                           budget=self.budget)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@contextmanager
def live_read(cluster: Cluster, what: str, *, gone: str = "", seconds: float | None = None) -> Iterator[LiveRead]:
    """``with live_read(cluster, "listing the node's pods") as read: ... read.client ...``: the
    client layer's errors raised inside become :mod:`portal.errors` (see :func:`failure`);
    ``what`` says what the view was doing, ``gone`` replaces the message of a 404."""
    read = LiveRead(cluster, seconds=seconds)
    try:
        yield read
    except (kube.KubeError, DecryptionError) as exc:
        raise failure(exc, cluster, what, budget=read.budget, gone=gone) from exc
    finally:
        read.close()


def failure(exc: Exception, cluster: Cluster, what: str, *, budget: float, gone: str = "") -> errors.PortalError:
    """A failed live read as the portal's error (the body the API answers)."""
    explained = explain(exc)
    params: dict[str, Any] = {"cluster": cluster.name}
    if isinstance(exc, kube.ConnectTimeout | kube.ReadTimeout):
        return errors.Unavailable(
            f"The cluster {cluster.name} sent no answer within {budget:g} s while {what}. "
            "The API server may be overloaded, or the network path blocked; try again.",
            code="cluster_timeout", params={**params, "budget": budget, "reason": explained.code})
    if isinstance(exc, kube.Unreachable) and not isinstance(exc, kube.ClientCertificateRefused):
        return errors.Unavailable(f"The cluster {cluster.name} could not be reached while {what}: "
                                  f"{explained.message}", code="cluster_unreachable",
                                  params={**params, "reason": explained.code, "server": cluster.server,
                                          "error": explained.message})
    if isinstance(exc, kube.Forbidden):
        return errors.Forbidden(f"The portal's credentials for {cluster.name} may not do this ({what}): "
                                f"{explained.message}", code=explained.code, params=params)
    if isinstance(exc, kube.NotFound):
        return errors.NotFound(gone or str(exc), code="object_not_found", params=params)
    if isinstance(exc, kube.Gone):
        expired = ("The list changed too much since the first page (the continue token expired); start from the "
                   "first page.")
        return errors.Invalid(expired, code="continue_expired", errors={"continue": [expired]})
    if isinstance(exc, kube.KubeError) and exc.status == 400:
        return errors.Invalid(f"The cluster refused the request: {exc}", code="rejected_by_cluster")
    if isinstance(exc, kube.Unauthorized):
        return errors.Upstream(f"The cluster {cluster.name} rejected the portal's credentials while {what}: "
                               f"{explained.message}", code=explained.code, params=params)
    return errors.Upstream(f"The cluster {cluster.name} answered with an error while {what}: {explained.message}",
                           code=explained.code, params=params)
