"""The /ws/logs/ consumer: follow one pod or a workload's pods with backpressure (LOGS)."""
