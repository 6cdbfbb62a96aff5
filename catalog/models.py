"""Models of catalog.

Catalog sources, package versions, releases and their revisions, and multi-cluster rollouts. The models arrive with their issue; this module exists so the app is wired
(migrations, admin, API) from the start.
"""
