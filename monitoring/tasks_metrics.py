"""Celery tasks of metric collection, roll-ups and retention (METRICS)."""
