"""The Celery application: finite jobs against clusters run here, never in web requests."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
@worker_process_init.connect
def _freeze_setup(**kwargs: Any) -> None:
    """The worker is set up (threads pool: its one process; prefork: each child): freeze what is
    alive out of the garbage collector's full collections (:mod:`portal.gcpause`)."""
    from portal import gcpause

    gcpause.freeze_setup()
    gcpause.log_long_collections("worker")
