"""The watcher service: keeps the inventory read model of every cluster current.

``manage.py runwatchers`` runs :class:`clusters.watcher.engine.Engine`: per (cluster, kind) a
list then watch loop (the blocking client runs in threads), one batching database writer,
coalesced live events after commit, per-cluster health probes and a circuit breaker, and leases
so several processes split the fleet. See ``docs/watcher.md``.
"""
