"""The portal's effective configuration as an admin may see it: every tunable that matters to an
operator (address policy, retention, intervals, limits, sessions, versions), its value now, its
built-in default, and the environment variable that sets it, without a single secret.

Secrets (the secret key, encryption keys, passwords, tokens, the credentials in the database and
Redis URLs) are never read into the answer: a secret entry says only whether it is set. As a
second line of defence, :func:`effective_settings` drops any value whose text contains a known
secret (``[redacted]``), so a secret that ended up in an ordinary setting by mistake (a password
pasted into a URL) still does not leave the server.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import celery
import django
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clusters.watcher.config import WatcherConfig
from portal import addresses, outbound

REDACTED = "[redacted]"


def _prod() -> bool:
    return bool(getattr(settings, "IS_PRODUCTION", True))


@dataclass(frozen=True)
class Entry:
    """One setting. ``default`` may be a callable (the default depends on the profile); ``read``
    computes the value when it is not a plain Django setting; ``secret`` entries show only
    whether they are set."""

    key: str
    default: Any = None
    env: str | None = None
    unit: str | None = None
    read: Callable[[], Any] | None = None
    secret: bool = False


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _env(name: str, default: float | str) -> Entry:
    """A plain setting of the same name as its environment variable."""
    return Entry(name, default, env=name)


def _beat(task: str) -> Callable[[], Any]:
    def read() -> Any:
        schedule: dict[str, Any] = getattr(settings, "CELERY_BEAT_SCHEDULE", {})
        entry = schedule.get(task)
        return float(entry["schedule"]) if entry else None
    return read


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _watcher_entries() -> list[Entry]:
    config = WatcherConfig.from_settings()
    defaults = WatcherConfig()
    entries = []
    units = {"page_size": None, "max_relists": None, "max_relists_per_cluster": None, "probe_failures": None,
             "max_clusters": None, "batch_size": None, "writer_threads": None, "publish_rows": None,
             "queue_size": None, "io_threads": None, "summary_rate": "per_second"}
    for field in dataclasses.fields(WatcherConfig):
        name = f"PORTAL_WATCHER_{field.name.upper()}"
        value = getattr(config, field.name)
        entries.append(Entry(name, getattr(defaults, field.name), env=name,
                             unit=units.get(field.name, "seconds"), read=_constant(value)))
    return entries


def _database() -> str:
    db = settings.DATABASES["default"]
    return f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db.get('NAME', '')}"


def _redis() -> str:
    parts = urlsplit(str(getattr(settings, "REDIS_URL", "")))
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _postgres_version() -> str:
    connection.ensure_connection()
    version = int(getattr(connection, "pg_version", 0) or 0)
    return f"{version // 10000}.{version % 10000}" if version else ""


def _sections() -> list[tuple[str, list[Entry]]]:
    return [
        ("environment", [
            Entry("PORTAL_ENV", "production", env="PORTAL_ENV"),
            Entry("DEBUG", lambda: not _prod() and settings.PORTAL_ENV == "development", env="DEBUG"),
            Entry("LOG_LEVEL", "INFO", env="LOG_LEVEL"),
            Entry("ALLOWED_HOSTS", lambda: [] if _prod() else ["localhost", "127.0.0.1", "[::1]", "testserver"],
                  env="ALLOWED_HOSTS"),
            Entry("CSRF_TRUSTED_ORIGINS", [], env="CSRF_TRUSTED_ORIGINS"),
            Entry("PORTAL_BASE_URL", lambda: "" if _prod() else "http://localhost:8000", env="PORTAL_BASE_URL"),
            Entry("PORTAL_TRUST_X_FORWARDED_FOR", False, env="PORTAL_TRUST_X_FORWARDED_FOR"),
            Entry("DATABASE", None, env="DATABASE_URL", read=_database),
            Entry("REDIS", None, env="REDIS_URL", read=_redis),
            Entry("FRONTEND_DIST", None, env="PORTAL_FRONTEND_DIST", read=lambda: str(settings.FRONTEND_DIST)),
        ]),
        ("versions", [
            Entry("PORTAL_VERSION", None, read=lambda: settings.VERSION),
            Entry("DJANGO_VERSION", None, read=django.get_version),
            Entry("CELERY_VERSION", None, read=lambda: str(getattr(celery, "__version__", ""))),
            Entry("PYTHON_VERSION", None, read=lambda: f"{platform.python_implementation()} {sys.version.split()[0]}"),
            Entry("POSTGRESQL_VERSION", None, read=_postgres_version),
        ]),
        ("address_policy", [
            Entry("PORTAL_CLUSTER_ALLOW_LOOPBACK", lambda: not _prod(), env="PORTAL_CLUSTER_ALLOW_LOOPBACK"),
            Entry("PORTAL_CLUSTER_ALLOW_NETWORKS", [], env="PORTAL_CLUSTER_ALLOW_NETWORKS"),
            Entry("PORTAL_CLUSTER_DENY_NETWORKS", [], env="PORTAL_CLUSTER_DENY_NETWORKS"),
            Entry("ALWAYS_DENIED_NETWORKS", None,
                  read=lambda: [str(net) for net, _ in addresses.ALWAYS_DENIED]),
            Entry("OUTBOUND_MAX_REDIRECTS", None, read=lambda: outbound.MAX_REDIRECTS),
            Entry("OUTBOUND_PROXIES", None, read=lambda: "ignored (every connection is pinned to a checked address)"),
        ]),
        ("retention", [
            Entry("PORTAL_ACTIVITY_RETENTION_DAYS", 90, env="PORTAL_ACTIVITY_RETENTION_DAYS", unit="days"),
            Entry("PORTAL_EVENT_RETENTION_DAYS", 7, env="PORTAL_EVENT_RETENTION_DAYS", unit="days"),
            Entry("PORTAL_METRICS_RAW_RETENTION_HOURS", 24, env="PORTAL_METRICS_RAW_RETENTION_HOURS", unit="hours"),
            Entry("PORTAL_METRICS_5M_RETENTION_DAYS", 30, env="PORTAL_METRICS_5M_RETENTION_DAYS", unit="days"),
            Entry("PORTAL_METRICS_1H_RETENTION_DAYS", 400, env="PORTAL_METRICS_1H_RETENTION_DAYS", unit="days"),
            Entry("PORTAL_BUILD_LOG_MAX_BYTES", 1024 * 1024, env="PORTAL_BUILD_LOG_MAX_BYTES", unit="bytes"),
            Entry("AUDIT_LOG", None, read=lambda: "kept (append-only; nothing prunes it)"),
        ]),
        ("intervals", [
            Entry("PORTAL_METRICS_INTERVAL_SECONDS", 30.0, env="PORTAL_METRICS_INTERVAL_SECONDS", unit="seconds"),
            Entry("METRICS_ROLLUP_SECONDS", 60.0, unit="seconds", read=_beat("monitoring.rollup")),
            Entry("PORTAL_ALERT_EVAL_SECONDS", 30.0, env="PORTAL_ALERT_EVAL_SECONDS", unit="seconds"),
            Entry("CLUSTERS_RECHECK_BEAT_SECONDS", 60.0, unit="seconds", read=_beat("clusters.recheck")),
            Entry("PORTAL_CLUSTER_RECHECK_SECONDS", 300.0, unit="seconds"),
            Entry("PORTAL_LDAP_RECHECK_SECONDS", 900.0, env="PORTAL_LDAP_RECHECK_SECONDS", unit="seconds",
                  read=_beat("identity.recheck_ldap_groups")),
            Entry("PORTAL_WS_RECHECK_SECONDS", 30.0, env="PORTAL_WS_RECHECK_SECONDS", unit="seconds"),
            Entry("PORTAL_DEPLOY_WATCH_INTERVAL", 10.0, env="PORTAL_DEPLOY_WATCH_INTERVAL", unit="seconds"),
            Entry("PORTAL_DEPLOY_POLL_INTERVAL", 1.0, env="PORTAL_DEPLOY_POLL_INTERVAL", unit="seconds"),
            Entry("PORTAL_DEPLOY_RETRY_SECONDS", 30.0, env="PORTAL_DEPLOY_RETRY_SECONDS", unit="seconds"),
            Entry("PORTAL_BUILD_POLL_SECONDS", 1.0, env="PORTAL_BUILD_POLL_SECONDS", unit="seconds"),
            Entry("PORTAL_BUILD_LEASE_SECONDS", 90.0, env="PORTAL_BUILD_LEASE_SECONDS", unit="seconds"),
            Entry("PORTAL_LOG_RESCAN_SECONDS", 3.0, env="PORTAL_LOG_RESCAN_SECONDS", unit="seconds"),
            Entry("PORTAL_NOTIFY_LEASE_SECONDS", 60.0, env="PORTAL_NOTIFY_LEASE_SECONDS", unit="seconds"),
            Entry("PORTAL_NOTIFY_BACKOFF_SECONDS", 30.0, env="PORTAL_NOTIFY_BACKOFF_SECONDS", unit="seconds"),
            Entry("PORTAL_NOTIFY_BACKOFF_MAX_SECONDS", 3600.0, env="PORTAL_NOTIFY_BACKOFF_MAX_SECONDS",
                  unit="seconds"),
        ]),
        ("watcher", _watcher_entries()),
        ("limits", [
            Entry("PORTAL_MAX_BODY_BYTES", 5 * 1024 * 1024, env="PORTAL_MAX_BODY_BYTES", unit="bytes"),
            Entry("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024, unit="bytes"),
            Entry("PORTAL_LOGIN_MAX_FAILURES", 5, env="PORTAL_LOGIN_MAX_FAILURES"),
            Entry("PORTAL_LOGIN_MAX_ATTEMPTS_PER_IP", 30, env="PORTAL_LOGIN_MAX_ATTEMPTS_PER_IP"),
            Entry("PORTAL_LOGIN_WINDOW_SECONDS", 300, env="PORTAL_LOGIN_WINDOW_SECONDS", unit="seconds"),
            Entry("PORTAL_LOGIN_ACCOUNT_MAX_FAILURES", 10, env="PORTAL_LOGIN_ACCOUNT_MAX_FAILURES"),
            Entry("PORTAL_LOGIN_ACCOUNT_WINDOW_SECONDS", 900, env="PORTAL_LOGIN_ACCOUNT_WINDOW_SECONDS",
                  unit="seconds"),
            Entry("PORTAL_LOGIN_LOCKOUT_SECONDS", 900, env="PORTAL_LOGIN_LOCKOUT_SECONDS", unit="seconds"),
            Entry("PORTAL_LOG_MAX_SOCKETS_PER_USER", 10, env="PORTAL_LOG_MAX_SOCKETS_PER_USER"),
            Entry("PORTAL_LOG_MAX_PODS", 50, env="PORTAL_LOG_MAX_PODS"),
            Entry("PORTAL_MAX_REPLICAS", 1000, env="PORTAL_MAX_REPLICAS"),
            Entry("PORTAL_VIEW_READ_BUDGET", 5.0, env="PORTAL_VIEW_READ_BUDGET", unit="seconds"),
            Entry("PORTAL_DEPLOY_TIMEOUT", 300.0, env="PORTAL_DEPLOY_TIMEOUT", unit="seconds"),
            Entry("PORTAL_DRAIN_TIMEOUT", 600.0, env="PORTAL_DRAIN_TIMEOUT", unit="seconds"),
            Entry("PORTAL_EXEC_IDLE_SECONDS", 900.0, env="PORTAL_EXEC_IDLE_SECONDS", unit="seconds"),
            Entry("PORTAL_EXEC_MAX_SECONDS", 14400.0, env="PORTAL_EXEC_MAX_SECONDS", unit="seconds"),
            Entry("PORTAL_EXEC_RECORD_INPUT", False, env="PORTAL_EXEC_RECORD_INPUT"),
            Entry("PORTAL_NOTIFY_TIMEOUT_SECONDS", 10.0, env="PORTAL_NOTIFY_TIMEOUT_SECONDS", unit="seconds"),
            Entry("PORTAL_NOTIFY_MAX_ATTEMPTS", 8, env="PORTAL_NOTIFY_MAX_ATTEMPTS"),
            Entry("PORTAL_AUDIT_EXPORT_MAX_ROWS", 100_000, env="PORTAL_AUDIT_EXPORT_MAX_ROWS"),
            Entry("API_PAGE_SIZE", 50, read=lambda: settings.REST_FRAMEWORK.get("PAGE_SIZE")),
        ]),
        ("sessions", [
            Entry("SESSION_COOKIE_AGE", 12 * 3600, unit="seconds"),
            Entry("SESSION_COOKIE_SECURE", lambda: _prod()),
            Entry("CSRF_COOKIE_SECURE", lambda: _prod()),
            Entry("SESSION_COOKIE_SAMESITE", "Lax"),
            Entry("SECURE_SSL_REDIRECT", lambda: _prod(), env="SECURE_SSL_REDIRECT"),
            Entry("SECURE_HSTS_SECONDS", lambda: 31536000 if _prod() else 0, env="SECURE_HSTS_SECONDS",
                  unit="seconds"),
        ]),
        ("notifications", [
            Entry("EMAIL_HOST", "localhost", env="EMAIL_HOST"),
            Entry("EMAIL_PORT", lambda: 25 if _prod() else 1025, env="EMAIL_PORT"),
            Entry("EMAIL_USE_TLS", False, env="EMAIL_USE_TLS"),
            Entry("EMAIL_USE_SSL", False, env="EMAIL_USE_SSL"),
            Entry("EMAIL_TIMEOUT", 15.0, env="EMAIL_TIMEOUT", unit="seconds"),
            Entry("DEFAULT_FROM_EMAIL", "Kubernetes portal <portal@localhost>", env="DEFAULT_FROM_EMAIL"),
        ]),
        ("builds", [
            Entry("PORTAL_BUILTIN_REGISTRY_HOST",
                  lambda: "" if _prod() else f"127.0.0.1:{os.environ.get('PORTAL_REGISTRY_PORT', '55000')}",
                  env="PORTAL_BUILTIN_REGISTRY_HOST"),
            Entry("PORTAL_BUILTIN_REGISTRY_PLAIN_HTTP", False, env="PORTAL_BUILTIN_REGISTRY_PLAIN_HTTP"),
            Entry("PORTAL_BUILD_GIT_IMAGE", "alpine/git:2.45.2", env="PORTAL_BUILD_GIT_IMAGE"),
            Entry("PORTAL_BUILD_BUILDKIT_IMAGE", "moby/buildkit:v0.17.0-rootless", env="PORTAL_BUILD_BUILDKIT_IMAGE"),
            Entry("PORTAL_BUILD_BUILDAH_IMAGE", "quay.io/buildah/stable:v1.37.3", env="PORTAL_BUILD_BUILDAH_IMAGE"),
            Entry("PORTAL_BUILD_TRIVY_IMAGE", "aquasec/trivy:0.57.1", env="PORTAL_BUILD_TRIVY_IMAGE"),
        ]),
        ("secrets", [
            Entry("SECRET_KEY", env="SECRET_KEY", secret=True),
            Entry("PORTAL_ENCRYPTION_KEYS", env="PORTAL_ENCRYPTION_KEYS", secret=True),
            Entry("DATABASE_PASSWORD", env="DATABASE_URL", secret=True,
                  read=lambda: settings.DATABASES["default"].get("PASSWORD")),
            Entry("REDIS_PASSWORD", env="REDIS_URL", secret=True,
                  read=lambda: urlsplit(str(getattr(settings, "REDIS_URL", ""))).password),
            Entry("EMAIL_HOST_PASSWORD", env="EMAIL_HOST_PASSWORD", secret=True),
            Entry("PORTAL_METRICS_TOKEN", env="PORTAL_METRICS_TOKEN", secret=True),
        ]),
    ]


def known_secrets() -> list[str]:
    """Every secret value the process holds in its settings (to make sure none is shown)."""
    found: list[str] = [str(getattr(settings, "SECRET_KEY", "") or "")]
    for key in getattr(settings, "PORTAL_ENCRYPTION_KEYS", []) or []:
        found.append(str(key))
        found.append(str(key).partition(":")[2])
    found.append(str(settings.DATABASES["default"].get("PASSWORD") or ""))
    found.append(urlsplit(str(getattr(settings, "REDIS_URL", ""))).password or "")
    found.append(str(getattr(settings, "EMAIL_HOST_PASSWORD", "") or ""))
    found.append(str(getattr(settings, "PORTAL_METRICS_TOKEN", "") or ""))
    return [s for s in found if len(s) >= 8]  # shorter ones would match ordinary words (a dev password "portal")


def _contains_secret(value: Any, secrets: Iterable[str]) -> bool:
    text = repr(value)
    return any(secret in text for secret in secrets)


def _entry(entry: Entry, secrets: list[str]) -> dict[str, Any]:
    raw = entry.read() if entry.read is not None else getattr(settings, entry.key, None)
    from_env = bool(entry.env and os.environ.get(entry.env, "").strip())
    if entry.secret:
        # A secret says only whether it is set: never its value, length or any part of it.
        return {"key": entry.key, "value": bool(raw), "default": None, "is_default": not from_env,
                "env": entry.env, "from_env": from_env, "unit": None, "secret": True}
    default = _plain(entry.default() if callable(entry.default) else entry.default)
    value = _plain(raw)
    if _contains_secret(value, secrets):
        value = REDACTED
    if _contains_secret(default, secrets):
        default = REDACTED
    # No built-in default (a version, a connection): it is "the default" unless its variable is set.
    is_default = not from_env if entry.default is None else value == default
    return {"key": entry.key, "value": value, "default": default, "is_default": is_default, "env": entry.env,
            "from_env": from_env, "unit": entry.unit, "secret": False}


def effective_settings() -> dict[str, Any]:
    """The answer of ``GET /api/admin/settings/``."""
    secrets = known_secrets()
    return {
        "generated_at": timezone.now().isoformat(),
        "environment": str(getattr(settings, "PORTAL_ENV", "")),
        "version": str(getattr(settings, "VERSION", "")),
        "sections": [{"key": key, "entries": [_entry(e, secrets) for e in entries]} for key, entries in _sections()],
    }
