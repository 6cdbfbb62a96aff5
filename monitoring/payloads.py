"""Pure: e-mail, Slack, Teams and generic JSON bodies of a notification (NOTIFY)."""
