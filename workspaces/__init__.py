"""Workspaces: Workspaces, membership and roles, cluster/registry/storage allocations with quotas, and service maps."""
