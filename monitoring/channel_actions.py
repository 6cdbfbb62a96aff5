"""Writer: notification channels (create, change, delete, test) (NOTIFY)."""
