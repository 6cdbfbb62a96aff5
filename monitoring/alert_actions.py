"""Writer: alert lifecycle (pending, firing, acknowledged, resolved), transitions, silences, rules (ALERTS)."""
