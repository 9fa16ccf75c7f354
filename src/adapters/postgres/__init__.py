"""PostgreSQL adapters: the order store on psycopg 3 and the schema migrations it needs."""

from adapters.postgres.migrate import apply_migrations
from adapters.postgres.store import PostgresOrderStore

__all__ = ["PostgresOrderStore", "apply_migrations"]
