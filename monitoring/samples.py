"""Pure: turn metrics.k8s.io answers and read-model rows into sample rows at every level (issue 14, METRICS)."""
