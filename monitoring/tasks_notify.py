"""Celery tasks of notification delivery (NOTIFY)."""
