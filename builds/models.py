"""Models of builds: registries and their images, build definitions and runs, image scans and the
scan policy, webhook deliveries (issue 13; the contract is docs/builds.md).

* :class:`Registry`: an OCI registry the portal reads (Registry HTTP API v2) and pushes to through
  build pods: the built-in one (``builtin``) or an external one (Docker Hub, Harbor, GHCR, Quay,
  ECR-style, any v2 registry). Credentials are encrypted at rest, bound to the row, as a cluster's
  are. A workspace may use a registry where it holds a :class:`workspaces.models.RegistryAllocation`
  whose address (``host[:port]/prefix``) lies inside the registry's ``host``: the allocation is the
  repository prefix the workspace owns there (Harbor's projects, in effect).
* :class:`BuildDefinition`: how a workspace turns a git repository into an image: source, Dockerfile
  or a language preset, target registry and repository, tag scheme, where it builds (a cluster and
  a service map of the workspace), resources and cache, scan and deploy steps, webhook trigger.
* :class:`BuildRun` and :class:`BuildStep`: one execution and its steps (clone, build, scan, deploy).
  The run row is the intent; Jobs in the cluster are made from it by tasks, and a step's log is
  kept in the row as it arrives, so a failed step keeps its log after its pod is gone.
* :class:`ImageScan`: the scanner's findings for one image digest (per registry and repository).
* :class:`ScanPolicy` and :class:`ScanException`: per workspace, "block deploy at or above a
  severity", with named exceptions (a CVE id) that expire.
* :class:`WebhookDelivery`: delivery ids already accepted per definition, so a replay is refused.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from clusters.models import DNS1123_LABEL, Cluster
from portal import crypto
from portal.limits import DESCRIPTION_MAX_LENGTH
from workspaces.models import ServiceMap, Workspace


class RegistryKind(models.TextChoices):
    BUILTIN = "builtin", "Built-in registry"
    DOCKERHUB = "dockerhub", "Docker Hub"
    HARBOR = "harbor", "Harbor"
    GHCR = "ghcr", "GitHub Container Registry"
    QUAY = "quay", "Quay"
    ECR = "ecr", "Amazon ECR (or ECR-style)"
    GENERIC = "generic", "Any Registry HTTP API v2"


class RegistryStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not checked yet"
    OK = "ok", "Reachable"
    ERROR = "error", "Error"


class Registry(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[DNS1123_LABEL])
    kind = models.CharField(max_length=16, choices=RegistryKind.choices, default=RegistryKind.GENERIC)
    # Where images live: ``host[:port]`` as it appears in image references (``docker.io`` for Docker
    # Hub; the API base is derived from it, :mod:`builds.registries`). Unique: one record per registry.
    host = models.CharField(max_length=255, unique=True)
    plain_http = models.BooleanField(default=False)  # development/test only (the address policy decides)
    ca_pem = models.TextField(blank=True)
    username = models.CharField(max_length=200, blank=True)
    password_encrypted = models.TextField(blank=True)
    password_changed = models.DateTimeField(null=True, blank=True)  # rotations update every pull secret
    builtin = models.BooleanField(default=False)  # the portal's own registry (make run / make test / compose)
    allow_delete = models.BooleanField(default=True)  # deleting tags (the registry may still refuse)
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    status = models.CharField(max_length=16, choices=RegistryStatus.choices, default=RegistryStatus.UNKNOWN)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    checked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.name

    def _crypto_context(self) -> str:
        if self.pk is None:
            raise ValueError("save the registry before storing its password: it is bound to its id")
        return f"builds.registry:{self.pk}:password"

    def set_password(self, password: str) -> None:
        self.password_encrypted = crypto.encrypt_text(password, context=self._crypto_context())

    def get_password(self) -> str:
        return crypto.decrypt_text(self.password_encrypted, context=self._crypto_context())

    @property
    def needs_credentials(self) -> bool:
        return bool(self.username and self.password_encrypted)


class Preset(models.TextChoices):
    NONE = "", "The repository's own Dockerfile"
    JAVA_MAVEN = "java-maven", "Java (Maven)"
    JAVA_GRADLE = "java-gradle", "Java (Gradle)"
    NODEJS = "nodejs", "Node.js"
    PYTHON = "python", "Python"
    GO = "go", "Go"


class TagScheme(models.TextChoices):
    VERSION_BUILD = "version-build", "Version and build number (1.0.B000005)"
    GIT_SHA = "git-sha", "Git short SHA"


class Builder(models.TextChoices):
    BUILDKIT = "buildkit", "BuildKit (rootless)"
    BUILDAH = "buildah", "Buildah"


class ImageFormat(models.TextChoices):
    SPLIT = "split", "<path>.repository and <path>.tag (tag@digest)"
    REFERENCE = "reference", "<path> is the whole reference (repository:tag@digest)"


class BuildDefinition(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="build_definitions")
    name = models.CharField(max_length=63, validators=[DNS1123_LABEL])
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX_LENGTH)
    # Source: a git repository, always (a preset supplies the Dockerfile, not the code).
    git_url = models.CharField(max_length=500)
    git_ref = models.CharField(max_length=255, default="main")  # branch, tag or commit
    git_username = models.CharField(max_length=200, blank=True)
    git_password_encrypted = models.TextField(blank=True)
    context_dir = models.CharField(max_length=255, default=".")
    dockerfile_path = models.CharField(max_length=255, default="Dockerfile")  # relative to the context
    preset = models.CharField(max_length=16, choices=Preset.choices, default=Preset.NONE, blank=True)
    build_args = models.JSONField(default=dict, blank=True)  # ARG name -> value
    # Target.
    registry = models.ForeignKey(Registry, on_delete=models.PROTECT, related_name="build_definitions")
    repository = models.CharField(max_length=255)  # inside the registry, under the workspace's prefix
    tag_scheme = models.CharField(max_length=16, choices=TagScheme.choices, default=TagScheme.VERSION_BUILD)
    version = models.CharField(max_length=64, default="1.0")  # the version part of version-build tags
    next_build_number = models.PositiveIntegerField(default=1)
    # Where it builds.
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="build_definitions")
    service_map = models.ForeignKey(ServiceMap, on_delete=models.PROTECT, related_name="build_definitions")
    builder = models.CharField(max_length=16, choices=Builder.choices, default=Builder.BUILDKIT)
    resources = models.JSONField(default=dict, blank=True)  # {"requests": {cpu, memory}, "limits": {...}}
    cache_size = models.CharField(max_length=32, default="2Gi")  # emptyDir sizeLimit of the build cache
    timeout_seconds = models.PositiveIntegerField(default=1800)  # no progress this long: failed, cleaned up
    keep_runs = models.PositiveIntegerField(default=20)  # history retention (finished runs kept)
    # Optional steps.
    scan = models.BooleanField(default=True)
    deploy_release = models.ForeignKey("catalog.Release", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="build_definitions")
    deploy_image_path = models.CharField(max_length=200, default="image")  # dotted path in the values
    deploy_image_format = models.CharField(max_length=16, choices=ImageFormat.choices, default=ImageFormat.SPLIT)
    # Triggers: a git webhook, verified with this secret (never returned after creation).
    webhook_enabled = models.BooleanField(default=False)
    webhook_secret_encrypted = models.TextField(blank=True)
    trigger_refs = models.JSONField(default=list, blank=True)  # ["refs/heads/main", "refs/tags/v*"]; [] = git_ref
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["workspace", "name"], name="build_definition_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def _context(self, what: str) -> str:
        if self.pk is None:
            raise ValueError(f"save the build definition before storing its {what}: it is bound to its id")
        return f"builds.definition:{self.pk}:{what}"

    def set_git_password(self, password: str) -> None:
        self.git_password_encrypted = crypto.encrypt_text(password, context=self._context("git"))

    def get_git_password(self) -> str:
        return crypto.decrypt_text(self.git_password_encrypted, context=self._context("git"))

    def set_webhook_secret(self, secret: str) -> None:
        self.webhook_secret_encrypted = crypto.encrypt_text(secret, context=self._context("webhook"))

    def get_webhook_secret(self) -> str:
        return crypto.decrypt_text(self.webhook_secret_encrypted, context=self._context("webhook"))


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Error"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"


RUN_FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Trigger(models.TextChoices):
    MANUAL = "manual", "Manual"
    WEBHOOK = "webhook", "Webhook"
    REBUILD = "rebuild", "Rebuild"


class BuildRun(models.Model):
    definition = models.ForeignKey(BuildDefinition, on_delete=models.CASCADE, related_name="runs")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="build_runs")
    number = models.PositiveIntegerField()  # per definition, 1, 2, …
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    rebuild_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # What it builds, frozen at creation (the definition may change while it runs).
    spec = models.JSONField(default=dict, blank=True)  # git_url, ref, context_dir, dockerfile_path, preset, …
    git_ref = models.CharField(max_length=255, blank=True)
    git_commit = models.CharField(max_length=64, blank=True)  # the SHA the clone fetched (or the webhook named)
    # The image: reference by tag, then by digest once pushed; size read from the registry.
    image_repository = models.CharField(max_length=512, blank=True)  # host[:port]/repository
    image_tag = models.CharField(max_length=128, blank=True)
    image_digest = models.CharField(max_length=71, blank=True)
    image_size = models.BigIntegerField(null=True, blank=True)  # bytes: config + layers, from the manifest
    # Where it ran: names of the Jobs (and the run's Secrets) in the service map's namespace.
    cluster = models.ForeignKey(Cluster, on_delete=models.SET_NULL, null=True, related_name="+")
    namespace = models.CharField(max_length=63, blank=True)
    jobs = models.JSONField(default=list, blank=True)  # ["portal-build-12-src", "portal-build-12-scan"]
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    # The deploy step's outcome: the release and revision it made.
    deployed_release = models.ForeignKey("catalog.Release", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    deployed_revision = models.PositiveIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    requested_username = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    progressed = models.DateTimeField(default=timezone.now)  # last sign of progress (the no-progress timeout)
    # The follower's lease: one worker at a time advances a run (a killed worker's lease runs out).
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created", "-pk"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["definition", "number"], name="build_run_number_unique"),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["workspace", "-created"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id}#{self.number}"


class StepName(models.TextChoices):
    CLONE = "clone", "Clone"
    BUILD = "build", "Build and push"
    SCAN = "scan", "Scan"
    DEPLOY = "deploy", "Deploy"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Error"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


class BuildStep(models.Model):
    run = models.ForeignKey(BuildRun, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=16, choices=StepName.choices)
    position = models.PositiveSmallIntegerField()  # 1-based order in the run
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    # Where its log comes from while it runs: a pod's container (none for the deploy step).
    job = models.CharField(max_length=253, blank=True)
    pod = models.CharField(max_length=253, blank=True)
    container = models.CharField(max_length=63, blank=True)
    log = models.TextField(blank=True)  # kept as it arrives, capped (the newest kept); never a secret
    log_truncated = models.BooleanField(default=False)
    # Bytes of the container's log read so far (the runner's cursor; the kept log may be shorter).
    log_offset = models.BigIntegerField(default=0)
    exit_code = models.IntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    message_code = models.CharField(max_length=64, blank=True)
    message_params = models.JSONField(default=dict, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["run_id", "position"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["run", "name"], name="build_step_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.name}"


class Severity(models.TextChoices):
    UNKNOWN = "UNKNOWN", "Unknown"
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    CRITICAL = "CRITICAL", "Critical"


SEVERITY_ORDER = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}


class ImageScan(models.Model):
    registry = models.ForeignKey(Registry, on_delete=models.CASCADE, related_name="scans")
    repository = models.CharField(max_length=255)
    digest = models.CharField(max_length=71)
    scanner = models.CharField(max_length=64, default="trivy")
    counts = models.JSONField(default=dict, blank=True)  # {"CRITICAL": 1, "HIGH": 0, …}
    # [{"id", "package", "version", "fixed_version", "severity", "title"}], worst first
    findings = models.JSONField(default=list, blank=True)
    run = models.ForeignKey(BuildRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="scans")
    scanned = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-scanned"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["registry", "repository", "digest"], name="image_scan_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest}"


class ScanPolicy(models.Model):
    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="scan_policy")
    # Block a deploy of an image whose scan has a finding at or above this severity ("" = never block).
    block_severity = models.CharField(max_length=16, choices=Severity.choices, blank=True, default="")
    # An image with no scan: deploy allowed (False) or blocked (True).
    require_scan = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    def __str__(self) -> str:
        return f"{self.workspace_id}:{self.block_severity or 'off'}"


class ScanException(models.Model):
    policy = models.ForeignKey(ScanPolicy, on_delete=models.CASCADE, related_name="exceptions")
    vulnerability = models.CharField(max_length=64)  # CVE-2024-1234, GHSA-…
    reason = models.TextField(max_length=DESCRIPTION_MAX_LENGTH)
    expires = models.DateTimeField()
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["vulnerability"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["policy", "vulnerability"], name="scan_exception_unique"),
        ]

    def __str__(self) -> str:
        return self.vulnerability


class WebhookDelivery(models.Model):
    definition = models.ForeignKey(BuildDefinition, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.CharField(max_length=128)  # X-GitHub-Delivery, X-Gitlab-Event-UUID, X-Delivery-Id
    provider = models.CharField(max_length=16)  # github | gitlab | generic
    ref = models.CharField(max_length=255, blank=True)
    commit = models.CharField(max_length=64, blank=True)
    run = models.ForeignKey(BuildRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-received"]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["definition", "delivery_id"], name="webhook_delivery_unique"),
        ]

    def __str__(self) -> str:
        return self.delivery_id
