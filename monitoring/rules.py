"""Pure: the built-in rules and custom-rule conditions, from snapshots to findings with fingerprints (ALERTS)."""
