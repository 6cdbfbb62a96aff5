"""HTTP API of the activity timeline (docs/activity.md)."""
