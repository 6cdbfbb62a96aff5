"""Watcher listener and writer: cluster events kept for the retention period (METERING/EVENTS)."""
