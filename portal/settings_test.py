"""Settings for pytest: the test profile against the project's own PostgreSQL and Redis."""

import os

# The test settings always mean the test profile, whatever the shell exported.
os.environ["PORTAL_ENV"] = "test"
# Tests use Redis database 1 so a `make run` on the same machine (database 0) never takes their
# Celery tasks or hears their events.
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:{os.environ.get('PORTAL_REDIS_PORT', '63799')}/1")

from portal.settings import *  # noqa: F403
from portal.settings import PORTAL_ENV

assert PORTAL_ENV == "test", "portal.settings_test must not run with another PORTAL_ENV"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing in tests only

# Threads of the async tests must not keep connections open past their work, or the test
# database cannot be dropped at the end of the run.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
