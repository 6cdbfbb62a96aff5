"""Models of workspaces.

Workspaces, membership and roles, cluster/registry/storage allocations with quotas, and service maps. The models arrive with their issue; this module exists so the app is wired
(migrations, admin, API) from the start.
"""
