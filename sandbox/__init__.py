"""Simulated Kubernetes clusters that speak the real Kubernetes REST API over HTTPS.

See ``sandbox/README.md``.  Entry points: ``python -m sandbox serve`` and
:func:`sandbox.testing.running_sandbox` for test suites.
"""
