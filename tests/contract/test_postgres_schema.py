"""The migrations: the spec's tables exactly, our additions only as additions, each file run once."""

from __future__ import annotations

import asyncio
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from adapters.postgres import apply_migrations
from adapters.postgres.migrate import migrations
from adapters.postgres.rows import CLOSED_STATUSES
from trading_core.errors import StoreError

SPEC_SQL = (pathlib.Path(__file__).parent / "spec_schema.sql").read_text()
SPEC_TABLES = ("orders", "positions", "fills")
ADDED_COLUMNS = {
    "orders": [
        "trail_price",
        "trail_percent",
        "filled_notional",
        "rejection_code",
        "rejection_reason",
        "replaces",
        "replaced_by",
        "parent_id",
        "order_class",
        "take_profit",
        "stop_loss",
        "legs",
        "leg_of",
        "hwm",
        "engine_protection",
    ],
    "positions": ["cost_basis_exact", "realized_pnl", "opened_at"],
    "fills": ["realized_pnl"],
}


def columns(conn: psycopg.Connection[Any], schema: str, table: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)"
        " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schema, table),
    ).fetchall()


def constraints(conn: psycopg.Connection[Any], schema: str, table: str) -> set[tuple[str, str]]:
    found = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid, true) FROM pg_constraint WHERE conrelid = %s::regclass",
        (f"{schema}.{table}",),
    ).fetchall()
    return {(name, definition.replace(f"{schema}.", "trading.")) for name, definition in found}


def indexes(conn: psycopg.Connection[Any], schema: str, table: str) -> set[tuple[str, str]]:
    found = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (schema, table)
    ).fetchall()
    return {(name, definition.replace(f"{schema}.", "trading.")) for name, definition in found}


def catalog(conn: psycopg.Connection[Any]) -> list[Any]:
    tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'trading'")]
    return sorted(
        (
            table,
            columns(conn, "trading", table),
            sorted(constraints(conn, "trading", table)),
            sorted(indexes(conn, "trading", table)),
        )
        for table in tables
    )


@pytest.fixture
def conn(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        yield connection


class TestSpecSchema:
    @pytest.fixture
    def reference(self, conn: psycopg.Connection[Any]) -> str:
        """The spec's SQL, run as written in a scratch schema."""
        conn.execute(SPEC_SQL.replace("trading", "spec_ref").encode())
        return "spec_ref"

    @pytest.mark.parametrize("table", SPEC_TABLES)
    def test_spec_columns_are_exactly_as_written(self, conn: Any, reference: str, table: str) -> None:
        """Names, types, nullability and defaults; ours come after, and are only the listed ones."""
        spec = columns(conn, reference, table)
        ours = columns(conn, "trading", table)

        assert ours[: len(spec)] == spec
        assert [c[0] for c in ours[len(spec) :]] == ADDED_COLUMNS[table]

    @pytest.mark.parametrize("table", SPEC_TABLES)
    def test_spec_checks_uniques_and_keys_are_exactly_as_written(self, conn: Any, reference: str, table: str) -> None:
        assert constraints(conn, "trading", table) == constraints(conn, reference, table)

    @pytest.mark.parametrize("table", SPEC_TABLES)
    def test_spec_indexes_are_all_there(self, conn: Any, reference: str, table: str) -> None:
        assert indexes(conn, reference, table) <= indexes(conn, "trading", table)

    def test_the_open_orders_index_names_the_domains_closed_statuses(self, conn: Any) -> None:
        (definition,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_orders_open_created'"
        ).fetchone()

        assert tuple(sorted(re.findall(r"'(\w+)'", definition))) == CLOSED_STATUSES

    @pytest.mark.parametrize(
        ("query", "index"),
        [
            ("SELECT id FROM trading.orders o WHERE {open} ORDER BY o.created_at DESC, o.id DESC LIMIT 10", "open"),
            ("SELECT count(*) FROM trading.orders WHERE {open}", "open"),
            ("SELECT id FROM trading.orders o ORDER BY o.created_at DESC, o.id DESC LIMIT 10", "created"),
            ("SELECT event_id FROM trading.outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 10", "unsent"),
        ],
    )
    def test_listings_can_use_their_indexes(self, conn: Any, query: str, index: str) -> None:
        from adapters.postgres.rows import OPEN_PREDICATE

        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query.format(open=OPEN_PREDICATE)))

        expected = {"open": "idx_orders_open_created", "created": "idx_orders_created", "unsent": "idx_outbox_unsent"}
        assert expected[index] in plan


class TestMigrations:
    def test_each_file_is_recorded_and_a_second_run_changes_nothing(self, conn: Any, postgres_url: str) -> None:
        before = catalog(conn)

        applied = asyncio.run(apply_migrations(postgres_url))

        assert applied == []
        assert catalog(conn) == before
        assert [r[0] for r in conn.execute("SELECT version FROM trading.schema_migrations ORDER BY version")] == [
            m.version for m in migrations()
        ]

    def test_an_empty_database_gets_every_file_in_order(self, postgres_empty_url: str) -> None:
        first = asyncio.run(apply_migrations(postgres_empty_url))
        second = asyncio.run(apply_migrations(postgres_empty_url))

        assert first == [m.version for m in migrations()]
        assert first == sorted(first)
        assert second == []

    def test_instances_starting_together_apply_each_file_once(self, postgres_empty_url: str) -> None:
        async def together() -> list[list[str]]:
            return list(await asyncio.gather(*(apply_migrations(postgres_empty_url) for _ in range(3))))

        results = sorted(asyncio.run(together()), key=len)

        assert results == [[], [], [m.version for m in migrations()]]

    def test_a_migration_edited_after_it_ran_is_refused(self, conn: Any, postgres_url: str) -> None:
        conn.execute("UPDATE trading.schema_migrations SET checksum = repeat('0', 64) WHERE version = '0002'")

        with pytest.raises(StoreError, match="edited"):
            asyncio.run(apply_migrations(postgres_url))

    def test_an_open_connection_can_be_migrated(self, postgres_empty_url: str) -> None:
        async def on_connection() -> list[str]:
            async with await psycopg.AsyncConnection.connect(postgres_empty_url, autocommit=True) as connection:
                return await apply_migrations(connection)

        assert asyncio.run(on_connection()) == [m.version for m in migrations()]

    def test_an_unreachable_server_is_a_store_error(self) -> None:
        with pytest.raises(StoreError):
            asyncio.run(apply_migrations("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2"))
