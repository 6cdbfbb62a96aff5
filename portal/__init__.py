"""The portal project package: settings, URLs, ASGI, Celery, users, auth, audit and health.

The Celery app is imported here so `@shared_task` functions in every app bind to it.
"""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
