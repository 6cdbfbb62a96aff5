"""The catalog and deploys.

* :class:`CatalogSource`: where packages come from: a Helm chart repository (``index.yaml`` over
  HTTPS, optional basic-auth credentials encrypted at rest), uploaded chart archives, or
  packages saved from a service map. Owned by a workspace ("My catalog") or shared (no
  workspace; admins manage those).
* :class:`Package` and :class:`PackageVersion`: a chart and its versions, with the archive, the
  default values, the values schema and the readme once fetched.
* :class:`Release` and :class:`Revision`: a package version + values in one service map, and
  every revision of it ever deployed (rendered manifest, digest, status, who and when, the
  progress of each object). The release row is the intent; tasks make the cluster match it.
* :class:`Rollout` and :class:`RolloutTarget`: one package version + values deployed to service
  maps on many clusters in waves, with a ledger line per target.
* :class:`ClusterIntent`: one asked-for change of a service map's cluster (a config or autoscaler
  edit) or one asked-for answer from it (a plan's or a drift's dry-run): the view stores it and
  answers 202, a task converges it and stores the outcome on the row (docs/catalog-api.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from clusters.models import DNS1123_LABEL
from portal import crypto
from workspaces.models import ServiceMap, Workspace


class SourceKind(models.TextChoices):
    HELM = "helm", "Helm chart repository"
    OCI = "oci", "OCI registry holding charts"
    UPLOAD = "upload", "Uploaded charts"
    SERVICEMAP = "servicemap", "Saved from service maps"


class SourceStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    REFRESHING = "refreshing", "Refreshing"
    READY = "ready", "Ready"
    ERROR = "error", "Error"


class CatalogSource(models.Model):
    name = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    kind = models.CharField(max_length=16, choices=SourceKind.choices)
    workspace = models.ForeignKey(Workspace, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="catalog_sources")  # None: shared by admins
    url = models.CharField(max_length=500, blank=True)
    username = models.CharField(max_length=200, blank=True)
    password_encrypted = models.TextField(blank=True)
    ca_pem = models.TextField(blank=True)
    refresh_minutes = models.PositiveIntegerField(default=0)  # 0: on demand only
    webhook_token_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=SourceStatus.choices, default=SourceStatus.PENDING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    last_refreshed = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["workspace", "name"], name="source_name_unique"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(workspace__isnull=True),
                                    name="shared_source_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def _crypto_context(self) -> str:
        if self.pk is None:
            raise ValueError("save the source before storing its password: it is bound to its id")
        return f"catalog.source:{self.pk}:password"

    def set_password(self, password: str) -> None:
        self.password_encrypted = crypto.encrypt_text(password, context=self._crypto_context())

    def get_password(self) -> str:
        return crypto.decrypt_text(self.password_encrypted, context=self._crypto_context())


class Package(models.Model):
    source = models.ForeignKey(CatalogSource, on_delete=models.CASCADE, related_name="packages")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    icon = models.CharField(max_length=500, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    home = models.CharField(max_length=500, blank=True)
    latest_version = models.CharField(max_length=100, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["source", "name"], name="package_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class PackageVersion(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=100)
    app_version = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    archive_url = models.CharField(max_length=1000, blank=True)  # where to fetch it (repositories)
    digest = models.CharField(max_length=71, blank=True)  # sha256 of the archive, once fetched
    archive = models.BinaryField(null=True, blank=True)
    values_yaml = models.TextField(blank=True)
    values_schema = models.JSONField(null=True, blank=True)
    readme = models.TextField(blank=True)
    # templates that call Helm's lookup, which finds nothing here (docs/catalog-api.md): shown on
    # the package page and warned about in plans
    lookup_templates = models.JSONField(default=list, blank=True)
    # Why the last fetch of the archive failed (cleared when it is stored): a GET never fetches,
    # it answers from what is stored and says whether the archive is stored, coming or failed.
    archive_message = models.TextField(blank=True)
    archive_message_code = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["package_id", "-created"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["package", "version"], name="package_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.package_id}:{self.version}"


class Strategy(models.TextChoices):
    ROLLING = "rolling", "Rolling update"
    RECREATE = "recreate", "Recreate"
    BLUE_GREEN = "bluegreen", "Blue/green"
    CANARY = "canary", "Canary"


class ReleaseStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its task (or for the cluster)
    DEPLOYING = "deploying", "Deploying"
    DEPLOYED = "deployed", "Deployed"
    FAILED = "failed", "Failed"
    DELETING = "deleting", "Deleting"


class Release(models.Model):
    # A deleted service map takes its namespace, and so its releases, with it.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="releases")
    service_map = models.ForeignKey(ServiceMap, on_delete=models.CASCADE, related_name="releases")
    name = models.CharField(max_length=53, validators=[DNS1123_LABEL])
    package_version = models.ForeignKey(PackageVersion, on_delete=models.PROTECT, related_name="releases")
    values = models.JSONField(default=dict, blank=True)
    strategy = models.JSONField(default=dict, blank=True)  # {"type": Strategy, ...its parameters}
    # Where a blue/green or canary release stands (catalog.strategies): {"type", "phase", ...}
    strategy_state = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=ReleaseStatus.choices, default=ReleaseStatus.PENDING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    revision = models.PositiveIntegerField(default=0)  # the revision the release wants
    deployed_revision = models.PositiveIntegerField(default=0)  # the last one that went healthy
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["service_map", "name"], name="release_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class RevisionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLYING = "applying", "Applying"
    PROGRESSING = "progressing", "Progressing"
    DEPLOYED = "deployed", "Deployed"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded"


class Revision(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    action = models.CharField(max_length=16, default="install")  # install | upgrade | rollback
    rollback_of = models.PositiveIntegerField(null=True, blank=True)
    package_version = models.ForeignKey(PackageVersion, on_delete=models.PROTECT, related_name="+")
    values = models.JSONField(default=dict, blank=True)
    manifest = models.TextField(blank=True)  # the rendered objects, YAML
    digest = models.CharField(max_length=71, blank=True)
    resources = models.JSONField(default=list, blank=True)  # [{"apiVersion", "kind", "name"}]
    status = models.CharField(max_length=16, choices=RevisionStatus.choices, default=RevisionStatus.PENDING)
    progress = models.JSONField(default=dict, blank=True)  # "Kind/name" -> {"state", "ready", "desired", "message"}
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Decided when the revision is created, from who asked (an admin may apply cluster-scoped
    # objects): the deploy task reads it and never decides a permission itself.
    allow_cluster_scoped = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar[list[str]] = ["release_id", "-number"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["release", "number"], name="revision_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.release_id}#{self.number}"


class RolloutStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # stopped by its failure policy
    CANCELLED = "cancelled", "Cancelled"


class Rollout(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="rollouts")
    release_name = models.CharField(max_length=53, validators=[DNS1123_LABEL])
    # A finished rollout is history: it does not pin the version (deleting the source clears the
    # link; ``version_label`` keeps what it deployed). A running one is protected by the deletion
    # check (catalog.sources.used_version_ids), since it still starts targets with it.
    package_version = models.ForeignKey(PackageVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="rollouts")
    version_label = models.CharField(max_length=300, blank=True)  # "<package> <version>" at creation
    values = models.JSONField(default=dict, blank=True)
    policy = models.JSONField(default=dict, blank=True)  # {"batch_size", "max_failures", "concurrency"}
    # Decided at creation from who asked (see Revision.allow_cluster_scoped): targets started later
    # by the task use it, and their grants were checked at creation.
    allow_cluster_scoped = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=RolloutStatus.choices, default=RolloutStatus.RUNNING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    created = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]

    def __str__(self) -> str:
        return f"rollout {self.pk} of {self.release_name}"


class TargetState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLYING = "applying", "Applying"
    PROGRESSING = "progressing", "Progressing"
    HEALTHY = "healthy", "Healthy"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class RolloutTarget(models.Model):
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="targets")
    service_map = models.ForeignKey(ServiceMap, on_delete=models.CASCADE, related_name="+")
    wave = models.PositiveIntegerField(default=0)  # 0: the canary wave
    overrides = models.JSONField(default=dict, blank=True)
    release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revision = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=TargetState.choices, default=TargetState.PENDING)
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["rollout_id", "wave", "id"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["rollout", "service_map"], name="rollout_target_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.rollout_id}->{self.service_map_id}"


class ConfigKind(models.TextChoices):
    CONFIG_MAP = "ConfigMap", "ConfigMap"
    SECRET = "Secret", "Secret"


class ConfigVersion(models.Model):
    """One saved version of a ConfigMap or Secret of a service map, as the portal applied it.
    Secret data is encrypted at rest (bound to the row); ConfigMap data is kept as is."""

    service_map = models.ForeignKey(ServiceMap, on_delete=models.CASCADE, related_name="config_versions")
    kind = models.CharField(max_length=16, choices=ConfigKind.choices)
    name = models.CharField(max_length=253)
    version = models.PositiveIntegerField()
    keys = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)  # ConfigMaps only
    data_encrypted = models.TextField(blank=True)  # Secrets only
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    restarted = models.JSONField(default=list, blank=True)  # workloads restarted by this change
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["service_map_id", "kind", "name", "-version"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["service_map", "kind", "name", "version"], name="config_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}@{self.version}"

    def _crypto_context(self) -> str:
        if self.pk is None:
            raise ValueError("save the version before storing secret data: it is bound to its id")
        return f"catalog.configversion:{self.pk}:data"

    def set_secret_data(self, data: dict[str, str]) -> None:
        self.data_encrypted = crypto.encrypt_json(data, context=self._crypto_context())

    def get_secret_data(self) -> dict[str, str]:
        if not self.data_encrypted:
            return {}
        return {str(k): str(v) for k, v in crypto.decrypt_json(self.data_encrypted, context=self._crypto_context()).items()}


class IntentKind(models.TextChoices):
    CONFIG_SAVE = "config.save", "Save a ConfigMap or Secret"
    CONFIG_DELETE = "config.delete", "Delete a ConfigMap or Secret"
    HPA_SET = "hpa.set", "Set a workload's autoscaler"
    HPA_DELETE = "hpa.delete", "Delete a workload's autoscaler"
    PLAN = "release.plan", "Plan a deploy (dry-run)"
    DRIFT = "release.drift", "Compare a release with its cluster"


class IntentStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # stored; its task has not started it yet
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ClusterIntent(models.Model):
    """What a user asked of a service map's cluster, stored before any cluster call.

    ``spec`` (what to do) and ``result`` (what came of it) are encrypted at rest and bound to the
    row: a Secret's values, a plan's values and a revealed drift pass through them. The row is
    read back only by who asked (``created_by``); the events say the status, never the result.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    service_map = models.ForeignKey(ServiceMap, on_delete=models.CASCADE, related_name="+")
    release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=IntentKind.choices)
    target = models.CharField(max_length=300, blank=True)  # "ConfigMap/app-config", "Deployment/web", a release
    spec_encrypted = models.TextField(blank=True)
    result_encrypted = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=IntentStatus.choices, default=IntentStatus.PENDING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)  # stable: the console translates by it
    message_params = models.JSONField(default=dict, blank=True)  # what the translation fills in
    errors = models.JSONField(default=dict, blank=True)  # field -> messages, when the input was refused
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    finished = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]
        indexes: ClassVar[list[Any]] = [models.Index(fields=["status", "updated"], name="intent_status_updated")]

    def __str__(self) -> str:
        return f"{self.kind} {self.target} ({self.status})"

    def _context(self, what: str) -> str:
        if self.pk is None:
            raise ValueError("save the intent before storing its spec or result: they are bound to its id")
        return f"catalog.intent:{self.pk}:{what}"

    def set_spec(self, spec: dict[str, Any]) -> None:
        self.spec_encrypted = crypto.encrypt_json(spec, context=self._context("spec"))

    def get_spec(self) -> dict[str, Any]:
        return crypto.decrypt_json(self.spec_encrypted, context=self._context("spec")) if self.spec_encrypted else {}

    def set_result(self, result: dict[str, Any]) -> None:
        self.result_encrypted = crypto.encrypt_json(result, context=self._context("result"))

    def get_result(self) -> dict[str, Any] | None:
        if not self.result_encrypted:
            return None
        return crypto.decrypt_json(self.result_encrypted, context=self._context("result"))


# ---------------------------------------------------------------------------- moves (issue 17)


class MoveStatus(models.TextChoices):
    RUNNING = "running", "Running"  # deploying to the target, step by step
    HEALTHY = "healthy", "Healthy on the target"  # the source still runs; retiring it is a separate step
    RETIRING = "retiring", "Retiring the source"
    RETIRED = "retired", "Source retired"
    FAILED = "failed", "Failed"  # the source is untouched; the ledger says what happened where


class MoveStepState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Move(models.Model):
    """A service map moved to another cluster of its workspace: the target service map (its quota
    share), the source's ConfigMaps and Secrets, its releases at their deployed revisions and its
    autoscalers, in steps with a ledger (``steps``); the source is retired only when asked
    (:mod:`catalog.move_actions`, :mod:`catalog.moving`, docs/moves.md). Nothing secret is stored
    here: Secret values go from cluster to cluster and into the target's encrypted config versions."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="moves")
    # the source goes when it is retired (the record stays, with what it was)
    source = models.ForeignKey(ServiceMap, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target = models.ForeignKey(ServiceMap, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_cluster = models.ForeignKey("clusters.Cluster", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    target_cluster = models.ForeignKey("clusters.Cluster", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    source_cluster_name = models.CharField(max_length=100, blank=True)
    target_cluster_name = models.CharField(max_length=100, blank=True)
    source_namespace = models.CharField(max_length=63)
    target_namespace = models.CharField(max_length=63)
    quota = models.JSONField(default=dict, blank=True)  # the share the target got
    steps = models.JSONField(default=list, blank=True)  # [{key, state, message, message_code, ...}]
    status = models.CharField(max_length=16, choices=MoveStatus.choices, default=MoveStatus.RUNNING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    # decided at creation from who asked (as Rollout.allow_cluster_scoped): the task decides nothing
    allow_cluster_scoped = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    finished = models.DateTimeField(null=True, blank=True)  # healthy or failed
    retired = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["-created"]
        constraints: ClassVar[list[Any]] = [
            # one move at a time per source service map
            models.UniqueConstraint(fields=["source"], condition=models.Q(status__in=["running", "retiring"]),
                                    name="move_one_running_per_source"),
        ]
        indexes: ClassVar[list[Any]] = [models.Index(fields=["status", "updated"], name="move_status_updated")]

    def __str__(self) -> str:
        return f"move {self.pk} of {self.source_namespace}"


class MoveRelease(models.Model):
    """One release of a move: the source's deployed revision installed on the target."""

    move = models.ForeignKey(Move, on_delete=models.CASCADE, related_name="releases")
    name = models.CharField(max_length=53)
    source_release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_revision = models.PositiveIntegerField(default=0)
    version_label = models.CharField(max_length=300, blank=True)  # "<package> <version>"
    target_release = models.ForeignKey(Release, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revision = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=TargetState.choices, default=TargetState.PENDING)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["move_id", "name"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["move", "name"], name="move_release_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.move_id}:{self.name}"
