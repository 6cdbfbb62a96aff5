"""Models of clusters.

Registered Kubernetes clusters, the client layer (clusters/kube/), the watcher service and the inventory read model. The models arrive with their issue; this module exists so the app is wired
(migrations, admin, API) from the start.
"""
