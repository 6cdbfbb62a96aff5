"""Writer: price sheets (METERING)."""
