"""Catalog: Catalog sources, package versions, releases and their revisions, and multi-cluster rollouts."""
