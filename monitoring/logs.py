"""Pure: log line parsing, time interleaving of several pods, the bounded per-follower buffer (LOGS)."""
