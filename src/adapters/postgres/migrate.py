"""Schema migrations: numbered plain SQL files shipped in the package, each applied once.

`apply_migrations` runs the pending files in order in one transaction, under an advisory lock so
that several service instances starting at once apply each file once, and records each file with
its checksum in `trading.schema_migrations`. Running it again changes nothing; a recorded file
whose text has changed since is refused rather than silently skipped.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Any, Final

import attrs
import psycopg

from adapters.postgres.errors import translated
from trading_core.errors import StoreError

MIGRATION_LOCK: Final = 0x7472_6D67  # "trmg": one key, taken for the length of the transaction
_FILE_NAME: Final = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

_RECORD_TABLE: Final = """
CREATE SCHEMA IF NOT EXISTS trading;
CREATE TABLE IF NOT EXISTS trading.schema_migrations (
  version VARCHAR(4) PRIMARY KEY,
  name TEXT NOT NULL,
  checksum CHAR(64) NOT NULL,
  applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
)
"""


@attrs.frozen
class Migration:
    """One SQL file: `NNNN_name.sql`."""

    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """The SHA-256 of the migration's SQL, recorded when it is applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """Every migration shipped in the package, in order.

    Raises:
        StoreError: two migrations have the same number.
    """
    found: dict[str, Migration] = {}
    for entry in resources.files("adapters.postgres.migrations").iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            continue
        version, name = match.groups()
        if version in found:
            raise StoreError(f"two migrations are numbered {version}: {found[version].name} and {name}")
        found[version] = Migration(version, name, entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def apply_migrations(target: str | psycopg.AsyncConnection[Any]) -> list[str]:
    """Apply the pending migrations in order; return the versions applied (empty when up to date).

    Args:
        target: a connection string (a connection is opened and closed here), or an open
            connection (the migrations run in a transaction block on it).

    Raises:
        StoreError: the database failed, or a recorded migration has been edited since.
    """
    with translated():
        if isinstance(target, str):
            async with await psycopg.AsyncConnection.connect(target) as conn:
                return await _apply(conn)
        return await _apply(target)


async def _apply(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(_RECORD_TABLE)
        cursor = await conn.execute("SELECT version, checksum FROM trading.schema_migrations")
        recorded: dict[str, str] = dict(await cursor.fetchall())
        for migration in migrations():
            checksum = recorded.get(migration.version)
            if checksum is not None:
                if checksum != migration.checksum:
                    raise StoreError(
                        f"migration {migration.version}_{migration.name} was edited after it was applied",
                        details={"version": migration.version},
                    )
                continue
            await conn.execute(migration.sql.encode())
            await conn.execute(
                "INSERT INTO trading.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            applied.append(migration.version)
    return applied
