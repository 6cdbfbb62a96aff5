"""Builds: Registries and images, build definitions and runs, image scans and build pipelines."""
