"""Pure: chart ranges, steps, source tables and the SQL of a series (CHARTS)."""
