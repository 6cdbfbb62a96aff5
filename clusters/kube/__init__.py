"""The Kubernetes client layer: the only package in the portal that imports ``kubernetes``.

Everything that talks to a cluster goes through here: a kubeconfig or endpoint is validated into a
:class:`~clusters.kube.connection.ConnectionSpec`, the endpoint's address is checked against the
policy and pinned, and :class:`~clusters.kube.client.KubeClient` wraps the official client with a
timeout on every call, one retry policy, and typed errors.
"""
