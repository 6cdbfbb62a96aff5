"""Models of builds.

Registries and images, build definitions and runs, image scans and build pipelines. The models arrive with their issue; this module exists so the app is wired
(migrations, admin, API) from the start.
"""
