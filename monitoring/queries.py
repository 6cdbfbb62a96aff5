"""Reads: chart series per level and top-N from the sample tables (CHARTS)."""
