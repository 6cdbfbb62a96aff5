"""Reads: deploys, rollbacks, scale events and alerts of a chart's scope, as markers (CHARTS)."""
