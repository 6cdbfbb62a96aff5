"""Clusters: Registered Kubernetes clusters, the client layer (clusters/kube/), the watcher service and the inventory read model."""
