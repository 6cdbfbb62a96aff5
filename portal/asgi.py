"""ASGI entry point: HTTP goes to Django, ``/ws/`` to the Channels consumer with session auth,
``/ws/exec/`` to the pod shell relay, ``/ws/logs/`` to the log follower."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Under ASGI every sync view runs in a thread of its own, so a persistent connection would be opened
# per request thread and never reused: a burst of requests (1,000 reconnecting browsers) exhausted
# PostgreSQL's connection slots (bench/reconnect_storm.py). The web process shares a pool of
# connections among its threads instead (portal/settings.py, PORTAL_DB_POOL_MAX); workers and
# watchers, whose threads live long, keep a connection each.
# Set only while the settings load: processes this one starts (and, in tests, the workers a test
# process starts after importing this module) keep their own defaults.
_WEB_DEFAULTS = {"PORTAL_DB_POOL_MAX": "20", "PORTAL_DB_CONN_MAX_AGE": "0"}
_set_here = {key: value for key, value in _WEB_DEFAULTS.items() if key not in os.environ}
os.environ.update(_set_here)
try:
    django_asgi_app = get_asgi_application()  # django.setup(): the settings are read here
finally:
    for _key in _set_here:
        os.environ.pop(_key, None)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from clusters.api.terminal import ExecConsumer  # noqa: E402
from monitoring.consumers import LogConsumer  # noqa: E402
from portal.consumers import PortalConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter([
            path("ws/", PortalConsumer.as_asgi()),
            path("ws/exec/", ExecConsumer.as_asgi()),  # a pod's shell (clusters/api/terminal.py)
            path("ws/logs/", LogConsumer.as_asgi()),  # following logs (monitoring/consumers.py, docs/logs.md)
        ])),
    }
)
