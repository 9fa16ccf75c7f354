"""Plain SQL migrations, applied in the order of their number by `adapters.postgres.migrate`."""
