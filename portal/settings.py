"""Settings, read from the environment (12-factor).

Three profiles, chosen by ``PORTAL_ENV``:

* ``production`` (the default, so a forgotten variable fails safe): DEBUG off, secure
  cookies, HSTS, and the process refuses to start with a missing or default secret.
* ``development``: what ``make run`` uses; local PostgreSQL/Redis started by the project.
* ``test``: like development, set by ``portal.settings_test`` for pytest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
PORTAL_ENV = os.environ.get("PORTAL_ENV", "production").strip().lower()
if PORTAL_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured(
        f"PORTAL_ENV={PORTAL_ENV!r} is not one of production, development, test."
    )
IS_PRODUCTION = PORTAL_ENV == "production"
VERSION = "0.1.0"

# Development secrets: fine on a laptop, refused in production.
_DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production"
_DEV_ENCRYPTION_KEY = "dev:ZGV2LWluc2VjdXJlLWVuY3J5cHRpb24ta2V5LTMyYiE="  # 32 bytes, base64


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false).")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "" if IS_PRODUCTION else _DEV_SECRET_KEY)
if IS_PRODUCTION and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "Refusing to start in production without a real SECRET_KEY: set SECRET_KEY to a random "
        "string of at least 32 characters (for example `python -c 'import secrets; "
        "print(secrets.token_urlsafe(50))'`), or set PORTAL_ENV=development for a local run."
    )

# Credential encryption keys: "kid:base64(32 bytes)" separated by commas; the first encrypts,
# all decrypt, so a key can be rotated with `manage.py rotate_encryption_key`.
PORTAL_ENCRYPTION_KEYS = env_list(
    "PORTAL_ENCRYPTION_KEYS", [] if IS_PRODUCTION else [_DEV_ENCRYPTION_KEY]
)
if IS_PRODUCTION and (not PORTAL_ENCRYPTION_KEYS or _DEV_ENCRYPTION_KEY in PORTAL_ENCRYPTION_KEYS):
    raise ImproperlyConfigured(
        "Refusing to start in production without PORTAL_ENCRYPTION_KEYS: set it to "
        "'<key-id>:<base64 of 32 random bytes>' (for example `python -c 'import base64,os; "
        "print(\"k1:\" + base64.b64encode(os.urandom(32)).decode())'`)."
    )

DEBUG = env_bool("DEBUG", default=False if IS_PRODUCTION else PORTAL_ENV == "development")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if IS_PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Outside production the defaults point at the project's own servers (scripts/services.sh), whose
# ports PORTAL_PG_PORT / PORTAL_REDIS_PORT can move so two checkouts can run side by side.
_PG_PORT = os.environ.get("PORTAL_PG_PORT", "54329")
_REDIS_PORT = os.environ.get("PORTAL_REDIS_PORT", "63799")
DATABASE_URL = os.environ.get("DATABASE_URL", "" if IS_PRODUCTION else f"postgres://portal:portal@127.0.0.1:{_PG_PORT}/portal")
if not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL is not set (postgres://user:password@host:port/dbname).")
DATABASES: dict[str, Any] = {"default": dj_database_url.parse(
    DATABASE_URL, conn_max_age=int(os.environ.get("PORTAL_DB_CONN_MAX_AGE", "60")), conn_health_checks=True)}
# (portal/asgi.py gives the web process a pool instead, PORTAL_DB_POOL_MAX: see below.)
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("Only PostgreSQL is supported: DATABASE_URL must start with postgres://")
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# Parameters travel apart from the SQL (psycopg's server-side binding), and a statement a
# connection runs a fifth time is prepared: PostgreSQL parses and plans it once per connection,
# and the client no longer quotes every value into the text (bench/fanout.py: the worker's deploy
# task 15-18 -> 11-13 ms of CPU). PORTAL_DB_SERVER_SIDE_BINDING=0 turns it off, e.g. behind a
# PgBouncer in transaction mode older than 1.21 (no prepared statements across its connections).
if env_bool("PORTAL_DB_SERVER_SIDE_BINDING", True):
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
# A pool of connections shared by the process's threads (psycopg_pool through Django's "pool"
# option), for the web process: under ASGI every request runs in a thread of its own, so a
# connection per thread was opened and closed per request, and a burst (1,000 browsers
# reconnecting, bench/reconnect_storm.py) spent PostgreSQL's connection slots and CPU on the
# handshakes. PORTAL_DB_POOL_MAX connections at most per process (0: no pool); a request waits
# PORTAL_DB_POOL_TIMEOUT seconds for one, then answers 503 database_unavailable. Size it so that
# web replicas x PORTAL_DB_POOL_MAX plus the workers' and watchers' connections stay below
# PostgreSQL's max_connections (docs/operations.md).
DB_POOL_MAX = int(os.environ.get("PORTAL_DB_POOL_MAX", "0"))
if DB_POOL_MAX > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django refuses both
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(2, DB_POOL_MAX), "max_size": DB_POOL_MAX, "name": "portal",
        "timeout": float(os.environ.get("PORTAL_DB_POOL_TIMEOUT", "2")),
        "max_idle": 300.0,
        # A connection attempt that failed is retried with a doubling delay for reconnect_timeout,
        # and while one is scheduled the pool starts no other: with the default (5 minutes) the web
        # process stayed unable to serve for tens of seconds after PostgreSQL came back
        # (tests/faults/test_postgres.py). Give up soon; the next request starts a fresh attempt.
        "reconnect_timeout": 3.0,
    }

REDIS_URL = os.environ.get("REDIS_URL", "" if IS_PRODUCTION else f"redis://127.0.0.1:{_REDIS_PORT}/0")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is not set (redis://host:port/db).")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "portal",
    "clusters",
    "workspaces",
    "catalog",
    "builds",
    "monitoring",
    "identity",
    "activity",
    "provisioning",
    "dashboards",
]

MIDDLEWARE = [
    "portal.metrics.RequestMetricsMiddleware",  # first: times everything below (by resolved route)
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.DatabaseUnavailableMiddleware",  # PostgreSQL down or full: 503 with a body, not 500
    "django.middleware.security.SecurityMiddleware",
    "portal.csp.ContentSecurityPolicyMiddleware",  # before WhiteNoise: static files get it too
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.BodySizeLimitMiddleware",
    "portal.middleware.UrlControlCharacterMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.audit.AuditMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = "portal.wsgi.application"
AUTH_USER_MODEL = "portal.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "Korean")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The SPA is built by Vite into frontend/dist with base /static/; whitenoise serves it.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# PORTAL_FRONTEND_DIST points at another build (several builds side by side while developing).
FRONTEND_DIST = Path(os.environ.get("PORTAL_FRONTEND_DIST") or BASE_DIR / "frontend" / "dist")
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.is_dir() else []
WHITENOISE_USE_FINDERS = True

# Where cluster endpoints may point (SSRF guard, see clusters/kube/addresses.py). Link-local and
# cloud-metadata addresses are always refused; loopback only outside production by default.
PORTAL_CLUSTER_ALLOW_LOOPBACK = env_bool("PORTAL_CLUSTER_ALLOW_LOOPBACK", not IS_PRODUCTION)
PORTAL_CLUSTER_DENY_NETWORKS = env_list("PORTAL_CLUSTER_DENY_NETWORKS", [])
PORTAL_CLUSTER_ALLOW_NETWORKS = env_list("PORTAL_CLUSTER_ALLOW_NETWORKS", [])

# Request bodies: API payloads are small; kubeconfigs and charts have their own upload limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
PORTAL_MAX_BODY_BYTES = int(os.environ.get("PORTAL_MAX_BODY_BYTES", str(5 * 1024 * 1024)))

# Sessions and cookies.
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of every response, in every profile (portal/csp.py adds the same-origin
# WebSocket to connect-src). The console needs no inline script or style.
PORTAL_CSP: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
PORTAL_TRUST_X_FORWARDED_FOR = env_bool("PORTAL_TRUST_X_FORWARDED_FOR", False)

# Login throttling: failures per (ip, username) and attempts per ip, in a sliding window.
PORTAL_LOGIN_MAX_FAILURES = int(os.environ.get("PORTAL_LOGIN_MAX_FAILURES", "5"))
PORTAL_LOGIN_MAX_ATTEMPTS_PER_IP = int(os.environ.get("PORTAL_LOGIN_MAX_ATTEMPTS_PER_IP", "30"))
PORTAL_LOGIN_WINDOW_SECONDS = int(os.environ.get("PORTAL_LOGIN_WINDOW_SECONDS", "300"))
# Per account, from any address: this many failures within the window lock it for a while
# (an admin can lift the lock: POST /api/users/<id>/unlock/).
PORTAL_LOGIN_ACCOUNT_MAX_FAILURES = int(os.environ.get("PORTAL_LOGIN_ACCOUNT_MAX_FAILURES", "10"))
PORTAL_LOGIN_ACCOUNT_WINDOW_SECONDS = int(os.environ.get("PORTAL_LOGIN_ACCOUNT_WINDOW_SECONDS", "900"))
PORTAL_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("PORTAL_LOGIN_LOCKOUT_SECONDS", "900"))

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 30},
    }
}
# Open sockets re-read their session and re-check their groups this often (docs/api.md): the
# longest an expired session's socket stays open.
PORTAL_WS_RECHECK_SECONDS = float(os.environ.get("PORTAL_WS_RECHECK_SECONDS", "30"))

CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport with one Redis client per channel instead of one per command (portal/broker.py)
if REDIS_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A dead worker's unacknowledged messages go back on their queue once older than this; it must
# stay above the longest task and the longest countdown, or a running task is delivered twice
# (docs/reliability.md). Recovery does not wait for it: the beat reconcilers re-send lost work.
BROKER_VISIBILITY_TIMEOUT = int(os.environ.get("PORTAL_BROKER_VISIBILITY_TIMEOUT", "3600"))
if BROKER_VISIBILITY_TIMEOUT < 300:
    raise ImproperlyConfigured(f"PORTAL_BROKER_VISIBILITY_TIMEOUT={BROKER_VISIBILITY_TIMEOUT!r} is below 300 seconds: "
                               "tasks and countdowns longer than that would be delivered twice.")
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
# Workers run the threads pool (tasks wait on clusters, not on CPU; and chart rendering needs a
# process of its own, which a prefork child may not start). A few reserved tasks per thread keep
# the pool busy between Redis polls: at 1, a 20-cluster rollout left threads idle for seconds.
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Four queues (portal/enqueue.py): quick control work, deploys, long operations and beat, so a
# drain or a build never delays a cluster check. A worker started without -Q serves all four.
CELERY_TASK_QUEUES = [Queue(name) for name in ("control", "deploys", "long", "beat")]
CELERY_TASK_DEFAULT_QUEUE = "control"
CELERY_TASK_ROUTES = ("portal.enqueue.route_task",)
CELERY_BEAT_SCHEDULE: dict[str, Any] = {
    # Re-check clusters whose last check is old (or was lost): version, nodes, permissions.
    "clusters.recheck": {"task": "clusters.recheck_clusters", "schedule": 60.0},
    # Apply pending service maps and allocations (clusters back from unreachable), restore drift.
    "workspaces.reconcile": {"task": "workspaces.reconcile", "schedule": 60.0},
    # Refresh catalog repositories whose refresh_minutes have passed.
    "catalog.refresh_due": {"task": "catalog.refresh_due", "schedule": 60.0},
    # Deploys a killed task left halfway, deploys waiting for a cluster, running rollouts.
    "catalog.reconcile_releases": {"task": "catalog.reconcile_releases", "schedule": 15.0},
    # Config, autoscaler, plan and drift intents whose task never arrived or died.
    "catalog.reconcile_intents": {"task": "catalog.reconcile_intents", "schedule": 30.0},
    # Re-read LDAP users' groups and apply the mappings (removed from a group: access goes).
    "identity.recheck_ldap_groups": {"task": "identity.recheck_ldap_groups",
                                     "schedule": float(os.environ.get("PORTAL_LDAP_RECHECK_SECONDS", "900"))},
    # Delete recorded object changes older than PORTAL_ACTIVITY_RETENTION_DAYS (docs/activity.md).
    "activity.prune_changes": {"task": "activity.prune_changes", "schedule": 3600.0},
}
# The most rows one audit log CSV export may hold (GET /api/audit/export/, docs/audit.md); more is a 400
# asking to narrow the filters.
PORTAL_AUDIT_EXPORT_MAX_ROWS = int(os.environ.get("PORTAL_AUDIT_EXPORT_MAX_ROWS", "100000"))
# The activity timeline's record of object changes (activity.ObjectChange) is kept this many days;
# each object's newest older snapshot stays as the base of its next diff. 0 keeps everything.
PORTAL_ACTIVITY_RETENTION_DAYS = int(os.environ.get("PORTAL_ACTIVITY_RETENTION_DAYS", "90"))
# Releases: how long a rollout may take to become ready, how often it is looked at (the watcher
# tells at once when a release's workloads move: the interval is a fallback; the poll interval
# applies while a workload has to be read from the cluster), and after how long a deploy that has
# not moved is picked up again by the beat task.
PORTAL_DEPLOY_TIMEOUT = float(os.environ.get("PORTAL_DEPLOY_TIMEOUT", "300"))
PORTAL_DEPLOY_WATCH_INTERVAL = float(os.environ.get("PORTAL_DEPLOY_WATCH_INTERVAL", "10"))
PORTAL_DEPLOY_POLL_INTERVAL = float(os.environ.get("PORTAL_DEPLOY_POLL_INTERVAL", "1"))
PORTAL_DEPLOY_RETRY_SECONDS = float(os.environ.get("PORTAL_DEPLOY_RETRY_SECONDS", "30"))
# Node drains run as short steps on the long queue; how long one may wait for PodDisruptionBudgets
# to allow its evictions before it fails (it never holds a worker meanwhile).
PORTAL_DRAIN_TIMEOUT = float(os.environ.get("PORTAL_DRAIN_TIMEOUT", "600"))
# Seconds all the live reads of a cluster one view makes may take together, connecting included,
# without retries (clusters.gateway): a pod's live object, a drain preview, the resource browser,
# a service map's config. Past it the view answers 503 cluster_timeout.
PORTAL_VIEW_READ_BUDGET = float(os.environ.get("PORTAL_VIEW_READ_BUDGET", "5"))
# Workload actions (docs/clusters-api.md, "Workload actions"): the largest replica count a scale may ask
# for; more is a 400 replicas_invalid (a typo of a few zeros must not start thousands of pods).
PORTAL_MAX_REPLICAS = int(os.environ.get("PORTAL_MAX_REPLICAS", "1000"))

# Pod shells (/ws/exec/, docs/terminal.md): closed after this long without input, and after this
# long in all. Keystrokes go into the audit record only when an admin turns recording on.
PORTAL_EXEC_IDLE_SECONDS = float(os.environ.get("PORTAL_EXEC_IDLE_SECONDS", "900"))
PORTAL_EXEC_MAX_SECONDS = float(os.environ.get("PORTAL_EXEC_MAX_SECONDS", "14400"))
PORTAL_EXEC_RECORD_INPUT = env_bool("PORTAL_EXEC_RECORD_INPUT", False)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.ApiTokenAuthentication",
        "portal.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.BoundedJSONParser"],  # nesting limit, no NUL
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kubernetes multi-cluster portal API",
    "DESCRIPTION": "Clusters, workspaces, catalog, builds and monitoring. Authenticate with a session "
    "(browser) or `Authorization: Bearer <token>` (personal API token).",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` with different choices; name their enums explicitly.
    "ENUM_NAME_OVERRIDES": {
        "ClusterStatusEnum": "clusters.models.ClusterStatus",
        "NodeOperationStatusEnum": "clusters.models.NodeOperationStatus",
        "ApplyStatusEnum": "workspaces.models.ApplyStatus",
        "ReleaseStatusEnum": "catalog.models.ReleaseStatus",
        "RevisionStatusEnum": "catalog.models.RevisionStatus",
        "IntentKindEnum": "catalog.models.IntentKind",
        "ProviderKindEnum": "identity.models.ProviderKind",
        "RoleEnum": "portal.models.SystemRole",  # a user's role and a mapping's system_role
        "ObjectActionKindEnum": "clusters.models.ObjectActionKind",
        "ObjectActionStatusEnum": "clusters.models.ObjectActionStatus",
    },
    # Every operation documents the errors the stack answers with (portal/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "portal.schema.document_errors"],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_AUTHENTICATION": [
        "portal.authentication.ApiTokenAuthentication",
        "portal.authentication.SessionAuthentication",
    ],
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "uvicorn.access": {"level": "WARNING"},
    },
}

# builds: REGISTRY
# The built-in registry (scripts/registry.sh: docker-registry over HTTPS with its own CA, user
# `portal`, password in a 0600 file). Outside production the defaults read var/registry; in
# production there is no built-in registry unless PORTAL_BUILTIN_REGISTRY_HOST names one (compose
# points it at its `registry` service). `manage.py builtin_registry` registers it.
_REGISTRY_DIR = Path(os.environ.get("PORTAL_VAR_DIR", str(BASE_DIR / "var"))) / "registry"
PORTAL_BUILTIN_REGISTRY_HOST = os.environ.get(
    "PORTAL_BUILTIN_REGISTRY_HOST",
    "" if IS_PRODUCTION else f"127.0.0.1:{os.environ.get('PORTAL_REGISTRY_PORT', '55000')}").strip()
PORTAL_BUILTIN_REGISTRY_USERNAME = os.environ.get("PORTAL_BUILTIN_REGISTRY_USERNAME", "portal")
PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE = os.environ.get(
    "PORTAL_BUILTIN_REGISTRY_PASSWORD_FILE", "" if IS_PRODUCTION else str(_REGISTRY_DIR / "password"))
PORTAL_BUILTIN_REGISTRY_CA_FILE = os.environ.get(
    "PORTAL_BUILTIN_REGISTRY_CA_FILE", "" if IS_PRODUCTION else str(_REGISTRY_DIR / "ca.crt"))
PORTAL_BUILTIN_REGISTRY_PLAIN_HTTP = env_bool("PORTAL_BUILTIN_REGISTRY_PLAIN_HTTP", False)

# builds: RUNNER
# Build runs (builds/runner.py, docs/builds.md): the images of the clone, build and scan containers;
# how often a running build is looked at; how long one pass may hold a run before another worker may
# take it (a killed worker's runs are picked up by the beat after this); the newest bytes of each
# step's log that are kept; finished runs beyond a definition's keep_runs are pruned daily.
PORTAL_BUILD_GIT_IMAGE = os.environ.get("PORTAL_BUILD_GIT_IMAGE", "alpine/git:2.45.2")
PORTAL_BUILD_BUILDKIT_IMAGE = os.environ.get("PORTAL_BUILD_BUILDKIT_IMAGE", "moby/buildkit:v0.17.0-rootless")
PORTAL_BUILD_BUILDAH_IMAGE = os.environ.get("PORTAL_BUILD_BUILDAH_IMAGE", "quay.io/buildah/stable:v1.37.3")
PORTAL_BUILD_TRIVY_IMAGE = os.environ.get("PORTAL_BUILD_TRIVY_IMAGE", "aquasec/trivy:0.57.1")
PORTAL_BUILD_POLL_SECONDS = float(os.environ.get("PORTAL_BUILD_POLL_SECONDS", "1"))
PORTAL_BUILD_LEASE_SECONDS = float(os.environ.get("PORTAL_BUILD_LEASE_SECONDS", "90"))
PORTAL_BUILD_LOG_MAX_BYTES = int(os.environ.get("PORTAL_BUILD_LOG_MAX_BYTES", str(1024 * 1024)))
CELERY_BEAT_SCHEDULE["builds.reconcile_runs"] = {"task": "builds.reconcile_runs", "schedule": 30.0}
CELERY_BEAT_SCHEDULE["builds.prune_runs"] = {"task": "builds.prune_runs", "schedule": 86400.0}

# builds: DEPLOY
# Pull secrets (builds/pull_secrets.py): put back deleted or edited portal-pull-* Secrets and refresh
# stale ones (a rotated registry password) every 30 s; a rotation also updates them at once.
CELERY_BEAT_SCHEDULE["builds.reconcile_pull_secrets"] = {"task": "builds.reconcile_pull_secrets", "schedule": 30.0}
_ENUM_OVERRIDES: dict[str, str] = SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]  # type: ignore[assignment]
_ENUM_OVERRIDES["RegistryKindEnum"] = "builds.models.RegistryKind"

# ---------------------------------------------------------------------------- monitoring (issue 14)
# Each part below keeps its own settings in its section (docs/monitoring.md).

# monitoring: METRICS
# Samples from each cluster's metrics.k8s.io every interval; raw samples kept 24 h, 5-minute roll-ups
# 30 days, hourly roll-ups 400 days (retention drops whole partitions).
PORTAL_METRICS_INTERVAL_SECONDS = float(os.environ.get("PORTAL_METRICS_INTERVAL_SECONDS", "30"))
PORTAL_METRICS_RAW_RETENTION_HOURS = int(os.environ.get("PORTAL_METRICS_RAW_RETENTION_HOURS", "24"))
PORTAL_METRICS_5M_RETENTION_DAYS = int(os.environ.get("PORTAL_METRICS_5M_RETENTION_DAYS", "30"))
PORTAL_METRICS_1H_RETENTION_DAYS = int(os.environ.get("PORTAL_METRICS_1H_RETENTION_DAYS", "400"))
CELERY_BEAT_SCHEDULE["monitoring.collect_due"] = {"task": "monitoring.collect_due",
                                                  "schedule": PORTAL_METRICS_INTERVAL_SECONDS}
CELERY_BEAT_SCHEDULE["monitoring.rollup"] = {"task": "monitoring.rollup", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["monitoring.prune_partitions"] = {"task": "monitoring.prune_partitions", "schedule": 3600.0}

# monitoring: CHARTS

# monitoring: LOGS
# /ws/logs/ (docs/logs.md): sockets following logs per user (per web process), pods one workload follow
# reads at once, and how often a workload follow re-reads its pods from the read model.
PORTAL_LOG_MAX_SOCKETS_PER_USER = int(os.environ.get("PORTAL_LOG_MAX_SOCKETS_PER_USER", "10"))
PORTAL_LOG_MAX_PODS = int(os.environ.get("PORTAL_LOG_MAX_PODS", "50"))
PORTAL_LOG_RESCAN_SECONDS = float(os.environ.get("PORTAL_LOG_RESCAN_SECONDS", "3"))

# monitoring: ALERTS
PORTAL_ALERT_EVAL_SECONDS = float(os.environ.get("PORTAL_ALERT_EVAL_SECONDS", "30"))
CELERY_BEAT_SCHEDULE["monitoring.evaluate_alerts"] = {"task": "monitoring.evaluate_alerts",
                                                     "schedule": PORTAL_ALERT_EVAL_SECONDS}
_ENUM_OVERRIDES["AlertStateEnum"] = "monitoring.models.AlertState"
_ENUM_OVERRIDES["AlertSeverityEnum"] = "monitoring.models.Severity"

# monitoring: NOTIFY
# Notification channels and their outbox (docs/notifications.md). Links in notifications point at
# PORTAL_BASE_URL (the console's address as people open it; empty: relative /alerts/<id> links).
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "" if IS_PRODUCTION else "http://localhost:8000").rstrip("/")
# SMTP for e-mail channels (django.core.mail, with an explicit SMTP connection built from these).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25" if IS_PRODUCTION else "1025"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "15"))
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL (implicit TLS), not both.")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Kubernetes portal <portal@localhost>")
# Delivery: a claim (lease) lasts PORTAL_NOTIFY_LEASE_SECONDS; a failed attempt waits
# BACKOFF * 2^(attempts-1), at most BACKOFF_MAX; after MAX_ATTEMPTS the notification is failed.
PORTAL_NOTIFY_LEASE_SECONDS = float(os.environ.get("PORTAL_NOTIFY_LEASE_SECONDS", "60"))
PORTAL_NOTIFY_TIMEOUT_SECONDS = float(os.environ.get("PORTAL_NOTIFY_TIMEOUT_SECONDS", "10"))
PORTAL_NOTIFY_BACKOFF_SECONDS = float(os.environ.get("PORTAL_NOTIFY_BACKOFF_SECONDS", "30"))
PORTAL_NOTIFY_BACKOFF_MAX_SECONDS = float(os.environ.get("PORTAL_NOTIFY_BACKOFF_MAX_SECONDS", "3600"))
PORTAL_NOTIFY_MAX_ATTEMPTS = int(os.environ.get("PORTAL_NOTIFY_MAX_ATTEMPTS", "8"))
CELERY_BEAT_SCHEDULE["monitoring.sweep_notifications"] = {"task": "monitoring.sweep_notifications", "schedule": 30.0}
_ENUM_OVERRIDES["ChannelKindEnum"] = "monitoring.models.ChannelKind"
_ENUM_OVERRIDES["NotificationStateEnum"] = "monitoring.models.NotificationState"

# monitoring: METERING
# Cluster events are kept this many days after the cluster dropped them (monitoring.EventRecord).
PORTAL_EVENT_RETENTION_DAYS = int(os.environ.get("PORTAL_EVENT_RETENTION_DAYS", "7"))
# /metrics: readable by admins, or with `Authorization: Bearer <PORTAL_METRICS_TOKEN>` (empty: no token).
PORTAL_METRICS_TOKEN = os.environ.get("PORTAL_METRICS_TOKEN", "")
# Kept cluster events older than PORTAL_EVENT_RETENTION_DAYS are deleted hourly (docs/metering.md).
CELERY_BEAT_SCHEDULE["monitoring.prune_events"] = {"task": "monitoring.prune_events", "schedule": 3600.0}

# provisioning (docs/provisioning.md): follow provisioned clusters whose operation is running or whose
# follow step was lost, and re-check management clusters.
CELERY_BEAT_SCHEDULE["provisioning.reconcile"] = {"task": "provisioning.reconcile", "schedule": 30.0}

# catalog moves (docs/moves.md): moves of service maps a killed or lost task left are advanced again.
CELERY_BEAT_SCHEDULE["catalog.reconcile_moves"] = {"task": "catalog.reconcile_moves", "schedule": 15.0}
_ENUM_OVERRIDES["MoveStatusEnum"] = "catalog.models.MoveStatus"
_ENUM_OVERRIDES["MoveStepStateEnum"] = "catalog.models.MoveStepState"
_ENUM_OVERRIDES["ProviderEnum"] = "clusters.models.Provider"
_ENUM_OVERRIDES["InfraProviderEnum"] = "provisioning.models.InfraProvider"
