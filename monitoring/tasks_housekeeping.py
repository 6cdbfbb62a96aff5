"""Celery tasks: event retention (METERING/EVENTS)."""
