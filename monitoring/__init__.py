"""Monitoring: Metric samples and roll-ups, events, log streaming, alert rules and metering."""
