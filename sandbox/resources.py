"""Registry of the Kubernetes resource types the sandbox serves.

Everything that needs to know "what is a Pod" (the store, discovery, the HTTP
router, the controllers) looks the type up here, so there is exactly one place
that says which group/version a kind lives in, whether it is namespaced, which
subresources it has and which short names kubectl may use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS: tuple[str, ...] = ("get", "list")
CREATE_ONLY: tuple[str, ...] = ("create",)


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource (a group/version/plural triple).

    ``stored`` is False for virtual resources (metrics, access reviews) that are
    answered by the server and never kept in the store.  ``storage_key`` lets two
    API resources share one storage (core ``events`` and ``events.k8s.io``
    events, like a real apiserver converting between versions).
    """

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    has_status: bool = False
    stored: bool = True
    storage_alias: str = ""
    list_kind: str = field(default="")

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` string written into objects ("v1", "apps/v1")."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Registry key: "pods" for the core group, "deployments.apps" otherwise."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_key(self) -> str:
        """The key the store files objects under (shared by aliases)."""
        return self.storage_alias or self.key

    @property
    def group_path(self) -> str:
        """URL prefix of this type's group/version ("/api/v1", "/apis/apps/v1")."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"

    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _rt(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    *,
    short: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    subs: tuple[str, ...] = (),
    stored: bool = True,
    alias: str = "",
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=cats,
        verbs=verbs,
        subresources=subs,
        has_status="status" in subs,
        stored=stored,
        storage_alias=alias,
    )


_ALL = ("all",)
_NS_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    # core/v1
    _rt("", "v1", "namespaces", "Namespace", False, short=("ns",), verbs=_NS_VERBS, subs=("status", "finalize")),
    _rt("", "v1", "nodes", "Node", False, short=("no",), subs=("status",)),
    _rt("", "v1", "pods", "Pod", short=("po",), cats=_ALL, subs=("status", "log", "eviction", "binding", "exec")),
    _rt("", "v1", "services", "Service", short=("svc",), cats=_ALL, subs=("status",),
        verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    _rt("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _rt("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _rt("", "v1", "secrets", "Secret"),
    _rt("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",), subs=("token",)),
    _rt("", "v1", "events", "Event", short=("ev",)),
    _rt("", "v1", "persistentvolumes", "PersistentVolume", False, short=("pv",), subs=("status",)),
    _rt("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), subs=("status",)),
    _rt("", "v1", "resourcequotas", "ResourceQuota", short=("quota",), subs=("status",)),
    _rt("", "v1", "limitranges", "LimitRange", short=("limits",)),
    # apps/v1
    _rt("apps", "v1", "deployments", "Deployment", short=("deploy",), cats=_ALL, subs=("status", "scale")),
    _rt("apps", "v1", "replicasets", "ReplicaSet", short=("rs",), cats=_ALL, subs=("status", "scale")),
    _rt("apps", "v1", "statefulsets", "StatefulSet", short=("sts",), cats=_ALL, subs=("status", "scale")),
    _rt("apps", "v1", "daemonsets", "DaemonSet", short=("ds",), cats=_ALL, subs=("status",)),
    _rt("apps", "v1", "controllerrevisions", "ControllerRevision"),
    # batch/v1
    _rt("batch", "v1", "jobs", "Job", cats=_ALL, subs=("status",)),
    _rt("batch", "v1", "cronjobs", "CronJob", short=("cj",), cats=_ALL, subs=("status",)),
    # autoscaling/v2
    _rt("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",), cats=_ALL,
        subs=("status",)),
    # networking.k8s.io/v1
    _rt("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), subs=("status",)),
    _rt("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",)),
    _rt("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    # rbac.authorization.k8s.io/v1
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    # admissionregistration.k8s.io/v1: stored, defaulted and validated as the apiserver does; the
    # sandbox never calls the webhooks they name (see sandbox/README.md)
    _rt("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
        False, cats=("api-extensions",)),
    _rt("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
        False, cats=("api-extensions",)),
    # apiextensions.k8s.io/v1: the CRDs; the custom types they serve are derived per cluster (sandbox/crds.py)
    _rt("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
        short=("crd", "crds"), cats=("api-extensions",), subs=("status",)),
    # storage.k8s.io/v1
    _rt("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short=("sc",)),
    # events.k8s.io/v1 (same storage as core events, converted on the way in and out)
    _rt("events.k8s.io", "v1", "events", "Event", short=("ev",), alias="events"),
    # discovery.k8s.io/v1 (mirrored from Endpoints by the store, see sandbox/endpointslices.py)
    _rt("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    # policy/v1
    _rt("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",), subs=("status",)),
    # coordination.k8s.io/v1 (node heartbeats)
    _rt("coordination.k8s.io", "v1", "leases", "Lease"),
    # authorization.k8s.io/v1 (virtual, create only)
    _rt("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
        verbs=CREATE_ONLY, stored=False),
    _rt("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False,
        verbs=CREATE_ONLY, stored=False),
    # metrics.k8s.io/v1beta1 (virtual, from the metrics provider)
    _rt("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", False, verbs=READ_VERBS, stored=False),
    _rt("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", True, verbs=READ_VERBS, stored=False),
)

_BY_KEY: dict[str, ResourceType] = {rt.key: rt for rt in RESOURCE_TYPES}
_BY_GVR: dict[tuple[str, str, str], ResourceType] = {(rt.group, rt.version, rt.plural): rt for rt in RESOURCE_TYPES}
_BY_KIND: dict[tuple[str, str], ResourceType] = {}
for _t in RESOURCE_TYPES:
    # the first registration wins, so core "Event" is preferred over events.k8s.io
    _BY_KIND.setdefault((_t.api_version, _t.kind), _t)


def lookup(name: str) -> ResourceType:
    """Find a type by registry key ("pods", "deployments.apps", "ingresses.networking.k8s.io").

    Raises ``KeyError`` for unknown names.
    """
    return _BY_KEY[name]


def by_gvr(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_GVR.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    """Find a type by ``apiVersion`` + ``kind`` as written in an object."""
    return _BY_KIND.get((api_version, kind))


def stored_types() -> list[ResourceType]:
    """Types kept in the store, one per storage key."""
    seen: set[str] = set()
    out: list[ResourceType] = []
    for rt in RESOURCE_TYPES:
        if rt.stored and rt.storage_key not in seen:
            seen.add(rt.storage_key)
            out.append(rt)
    return out


def groups() -> list[tuple[str, str]]:
    """Served (group, version) pairs, core group excluded, in registry order."""
    out: list[tuple[str, str]] = []
    for rt in RESOURCE_TYPES:
        if rt.group and (rt.group, rt.version) not in out:
            out.append((rt.group, rt.version))
    return out


# Convenience handles used all over the sandbox and by the controllers.
NAMESPACES = lookup("namespaces")
NODES = lookup("nodes")
PODS = lookup("pods")
SERVICES = lookup("services")
ENDPOINTS = lookup("endpoints")
CONFIGMAPS = lookup("configmaps")
SECRETS = lookup("secrets")
SERVICEACCOUNTS = lookup("serviceaccounts")
EVENTS = lookup("events")
PERSISTENTVOLUMES = lookup("persistentvolumes")
PERSISTENTVOLUMECLAIMS = lookup("persistentvolumeclaims")
RESOURCEQUOTAS = lookup("resourcequotas")
LIMITRANGES = lookup("limitranges")
DEPLOYMENTS = lookup("deployments.apps")
REPLICASETS = lookup("replicasets.apps")
STATEFULSETS = lookup("statefulsets.apps")
DAEMONSETS = lookup("daemonsets.apps")
CONTROLLERREVISIONS = lookup("controllerrevisions.apps")
JOBS = lookup("jobs.batch")
CRONJOBS = lookup("cronjobs.batch")
HPAS = lookup("horizontalpodautoscalers.autoscaling")
INGRESSES = lookup("ingresses.networking.k8s.io")
NETWORKPOLICIES = lookup("networkpolicies.networking.k8s.io")
STORAGECLASSES = lookup("storageclasses.storage.k8s.io")
EVENTS_V1 = lookup("events.events.k8s.io")
PDBS = lookup("poddisruptionbudgets.policy")
ENDPOINTSLICES = lookup("endpointslices.discovery.k8s.io")
LEASES = lookup("leases.coordination.k8s.io")
ROLES = lookup("roles.rbac.authorization.k8s.io")
ROLEBINDINGS = lookup("rolebindings.rbac.authorization.k8s.io")
CLUSTERROLES = lookup("clusterroles.rbac.authorization.k8s.io")
CLUSTERROLEBINDINGS = lookup("clusterrolebindings.rbac.authorization.k8s.io")
