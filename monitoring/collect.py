"""Operation: read metrics.k8s.io (and Prometheus where configured) of one cluster and store the samples (METRICS)."""
