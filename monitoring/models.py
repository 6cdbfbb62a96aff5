"""Models of monitoring.

Metric samples and roll-ups, events, log streaming, alert rules and metering. The models arrive with their issue; this module exists so the app is wired
(migrations, admin, API) from the start.
"""
