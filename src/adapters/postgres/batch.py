"""Writes kept back and sent as one statement (data-modifying WITH queries), with their checks.

One statement instead of one per row saves a message, a send and an executor start-up per row,
on both sides. Every part of it sees the same snapshot and no part reads what another writes,
which is why only writes that cannot depend on each other are kept here: whole-row writes of
distinct rows. A second write of the same order or position replaces the first (both write the
whole row, so the last is what the row ends as), because one statement may not change a row
twice; fills and events are only ever added, events in the order given, so the outbox's `seq`
numbers them as before.

A write may carry the version (`xmin`) its row must still be at: the row as this process last
wrote it (`remembered.RememberedRows`), trusted instead of read under a lock. Such a write
returns a row only when the version matched, and the statement ends by counting them
(`trading.expect_rows`, migration 0005): one short and the whole statement fails with a
serialisation failure, so nothing of it is stored. A row read that way and not written is
checked the same way. The statement answers the id of the transaction that wrote it, which
is the version every row it wrote is at now.

Batches of different callers merge (`merge`) when they touch different rows: that is how
`group_commit.GroupCommit` writes many at once. Parts go in a fixed order of kinds (`WriteKind`),
so that batches of the same make-up share one statement text (and one prepared statement).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from adapters.postgres import history, rows
from adapters.postgres.connections import NativeQuery
from adapters.postgres.outbox import INSERT_EVENTS

POSITION_LOCK_CLASS: Final = 0x7472_7073  # "trps": advisory locks of positions, keyed by symbol

_AT_VERSION: Final = " AND xmin = %s::xid RETURNING 1"


class WriteKind(Enum):
    """What a kept write does: its statement, and whether it is checked (`counted`).

    A checked kind returns one row when its row is as expected (at its version, or still absent),
    and the statement counts them. Parts of a statement go in the order the kinds are declared.
    """

    NEW_ORDER = (rows.INSERT_NEW_ORDER, False)
    ORDER = (rows.UPDATE_ORDER, False)
    """The whole row of an order this unit holds locked."""
    ORDER_AT_VERSION = (rows.UPDATE_ORDER + _AT_VERSION, True)
    FILL = (rows.INSERT_FILL, False)
    CLOSED_POSITION = (history.INSERT_CLOSED, False)
    SNAPSHOT = (history.INSERT_SNAPSHOT, False)
    POSITION = (rows.UPSERT_POSITION, False)
    POSITION_AT_VERSION = (rows.UPDATE_POSITION + _AT_VERSION, True)
    NEW_POSITION = (
        # Where no row was, a new one takes the advisory lock a locking writer takes before it
        # looks, so that the two take turns; a row that appeared meanwhile makes it insert nothing.
        rows.INSERT_POSITION_SELECT
        + " FROM (SELECT pg_advisory_xact_lock(%s, hashtext(%s))) AS lock ON CONFLICT (symbol) DO NOTHING RETURNING 1",
        True,
    )
    FLAT = (rows.DELETE_POSITION, False)
    """A position this unit holds locked goes flat: its row is deleted."""
    FLAT_AT_VERSION = (rows.DELETE_POSITION + _AT_VERSION, True)
    ORDER_UNCHANGED = ("SELECT 1 FROM trading.orders WHERE id = %s AND xmin = %s::xid", True)
    POSITION_UNCHANGED = ("SELECT 1 FROM trading.positions WHERE symbol = %s AND xmin = %s::xid", True)
    STILL_FLAT = ("SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM trading.positions WHERE symbol = %s)", True)

    def __init__(self, statement: str, counted: bool) -> None:
        self.statement = statement
        self.counted = counted


_RANKS: Final = {kind: rank for rank, kind in enumerate(WriteKind)}
_VERSION: Final = "SELECT pg_current_xact_id()::xid::text"

Key = tuple[str, str]
"""("order", id), ("position", symbol), ("fill" or "closed", "order id/execution id"): one write per key."""

Write = tuple[WriteKind, tuple[Any, ...]]
"""A kept write: its kind and its parameters."""

_texts: dict[tuple[tuple[WriteKind, ...], bool], str] = {}


class WriteBatch:
    """Row writes, checks and events kept back, until `take()` makes one statement of them."""

    __slots__ = ("_events", "_writes")

    def __init__(self) -> None:
        self._writes: dict[Key, Write] = {}
        self._events: list[str] = []

    def __bool__(self) -> bool:
        return bool(self._writes or self._events)

    def write(self, key: Key, kind: WriteKind, params: tuple[Any, ...]) -> None:
        """Keep a write (or check) of the row `key`, replacing one of the same row kept before."""
        self._writes[key] = (kind, params)

    def add_fill(self, params: tuple[Any, ...]) -> None:
        """`rows.fill_params`; a second fill with the same execution id is refused by the unique index."""
        self._writes[("fill", f"{params[0]}/{params[1]}")] = (WriteKind.FILL, params)

    def add_events(self, encoded: str) -> None:
        """`outbox.encode_events` of the events, which follow those added before."""
        self._events.append(encoded)

    def keys(self) -> set[Key]:
        """The rows this batch writes or checks."""
        return set(self._writes)

    def merge(self, other: WriteBatch) -> None:
        """Add `other`'s writes and events (it keeps them too); the two must touch different rows."""
        self._writes.update(other._writes)
        self._events.extend(other._events)

    def clear(self) -> None:
        """Drop everything kept."""
        self._writes.clear()
        self._events.clear()

    def take(self) -> tuple[str, tuple[Any, ...]]:
        """The statement and its parameters for everything kept; the batch is empty afterwards.

        The statement answers one row: the version the rows it wrote are at (the writing
        transaction's id), or it fails with a serialisation failure when a check did not match.
        """
        ordered = sorted(self._writes.values(), key=_rank)
        params = [p for _, row in ordered for p in row]
        if self._events:
            params.append(self._events[0] if len(self._events) == 1 else _joined(self._events))
        text = _text(tuple(kind for kind, _ in ordered), bool(self._events))
        self.clear()
        return text, tuple(params)


def _rank(write: Write) -> int:
    return _RANKS[write[0]]


def _text(kinds: tuple[WriteKind, ...], events: bool) -> str:
    """`_statement` of this shape, built once."""
    text = _texts.get((kinds, events))
    if text is None:
        text = _texts[kinds, events] = _statement(kinds, events)
    return text


def _joined(arrays: list[str]) -> str:
    """JSON arrays made one: `[a]`, `[b, c]` -> `[a,b, c]`."""
    return "[" + ",".join(a[1:-1] for a in arrays if a != "[]") + "]"


def _statement(kinds: tuple[WriteKind, ...], events: bool) -> str:
    """`WITH w0 AS (...), w1 AS (...) SELECT <version>`, counting the rows of the checked parts."""
    parts = [kind.statement for kind in kinds]
    if events:
        parts.append(INSERT_EVENTS)
    counted = [f"(SELECT count(*) FROM w{i})" for i, kind in enumerate(kinds) if kind.counted]  # noqa: S608  # constants, numbers
    final = f"SELECT trading.expect_rows({' + '.join(counted)}, {len(counted)})" if counted else _VERSION
    if not parts:
        return final
    return NativeQuery.of("WITH " + ", ".join(f"w{i} AS ({part})" for i, part in enumerate(parts)) + " " + final)
