"""Operation: gather what the rules look at and run them, under one lock per run (ALERTS)."""
