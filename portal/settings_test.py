"""Settings for pytest: the test profile against the project's own PostgreSQL and Redis."""

import os

# The test settings always mean the test profile, whatever the shell exported.
os.environ["PORTAL_ENV"] = "test"
# Tests use Redis database 1 so a `make run` on the same machine (database 0) never takes their
# Celery tasks or hears their events.
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:{os.environ.get('PORTAL_REDIS_PORT', '63799')}/1")


def _xdist_redis_url(url: str) -> str:
    """Under pytest-xdist each worker has its own test database (pytest-django suffixes it) and must
    have its own Redis database too: its Celery worker would otherwise take the other worker's tasks
    (and read the wrong PostgreSQL database), and its WebSocket tests would hear the other's events.
    Worker n of N uses the base database plus n * (16 // N), so N workers never share one."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if not worker.startswith("gw") or not count.isdigit() or os.environ.get("PORTAL_XDIST_REDIS_OF") == worker:
        return url  # not a worker, or a process a worker started (it inherits the worker's URL)
    os.environ["PORTAL_XDIST_REDIS_OF"] = worker
    prefix, _, db = url.rpartition("/")
    index, stride = int(worker[2:]), max(1, 16 // int(count))
    return f"{prefix}/{(int(db or 0) + index * stride) % 16}"


os.environ["REDIS_URL"] = _xdist_redis_url(os.environ["REDIS_URL"])

from portal.settings import *  # noqa: E402, F403
from portal.settings import PORTAL_ENV  # noqa: E402

assert PORTAL_ENV == "test", "portal.settings_test must not run with another PORTAL_ENV"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing in tests only

# Threads of the async tests must not keep connections open past their work, or the test
# database cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
