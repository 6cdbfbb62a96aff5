"""Reads: metering (requested, used, billed, idle) and cost from the roll-ups (METERING)."""
