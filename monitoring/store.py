"""Writer of the sample tables: partitions ahead, batched COPY writes, roll-ups, retention by dropping partitions (METRICS)."""
