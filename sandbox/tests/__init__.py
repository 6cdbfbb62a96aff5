"""Tests for the sandbox clusters (run with ``pytest sandbox -p no:django``)."""
