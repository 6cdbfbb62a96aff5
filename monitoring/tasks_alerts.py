"""Celery tasks of alert evaluation (ALERTS)."""
