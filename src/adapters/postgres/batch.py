"""Writes a unit of work keeps back and sends as one statement (data-modifying WITH queries).

One statement instead of one per row saves a message, a send and an executor start-up per row,
on both sides. Every part of it sees the same snapshot and no part reads what another writes,
which is why only writes that cannot depend on each other are kept here: whole-row writes of
distinct rows. A second write of the same order or position replaces the first (both write the
whole row, so the last is what the row ends as), because one statement may not change a row
twice; fills and events are only ever added, events in the order given, so the outbox's `seq`
numbers them as before.
"""

from __future__ import annotations

from typing import Any, Final

from adapters.postgres import rows
from adapters.postgres.outbox import INSERT_EVENTS

_STATEMENTS: Final = {
    "order": rows.UPDATE_ORDER,
    "position": rows.UPSERT_POSITION,
    "flat": rows.DELETE_POSITION,
    "fill": rows.INSERT_FILL,
    "new_order": rows.INSERT_NEW_ORDER,
}

_texts: dict[tuple[tuple[str, ...], bool], str] = {}


class WriteBatch:
    """Row writes and events kept back, in the order given, until `take()` makes one statement of them."""

    __slots__ = ("_events", "_fills", "_writes")

    def __init__(self) -> None:
        self._writes: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}
        self._fills = 0
        self._events: list[str] = []

    def __bool__(self) -> bool:
        return bool(self._writes or self._events)

    def update_order(self, order_id: str, params: tuple[Any, ...]) -> None:
        self._writes[("order", order_id)] = ("order", params)

    def add_fill(self, params: tuple[Any, ...]) -> None:
        """`rows.fill_params`; a second fill with the same execution id is refused by the unique index."""
        self._fills += 1
        self._writes[("fill", str(self._fills))] = ("fill", params)

    def save_position(self, symbol: str, kind: str, params: tuple[Any, ...]) -> None:
        """`kind` is "position" (an upsert) or "flat" (a delete)."""
        self._writes[("position", symbol)] = (kind, params)

    def add_events(self, encoded: str) -> None:
        """`outbox.encode_events` of the events, which follow those added before."""
        self._events.append(encoded)

    def clear(self) -> None:
        self._writes.clear()
        self._fills = 0
        self._events.clear()

    def take(self) -> tuple[str, tuple[Any, ...]]:
        """The statement and its parameters for everything kept; the batch is empty afterwards."""
        params = [p for _, row in self._writes.values() for p in row]
        if self._events:
            params.append(self._events[0] if len(self._events) == 1 else _joined(self._events))
        text = _text(tuple(kind for kind, _ in self._writes.values()), bool(self._events))
        self.clear()
        return text, tuple(params)


def insert_orders(orders: int, events: bool) -> str:
    """One statement that inserts `orders` new orders (`rows.order_params` each) and then the events."""
    return _text(("new_order",) * orders, events)


def _text(kinds: tuple[str, ...], events: bool) -> str:
    """`_statement` of this shape, built once."""
    text = _texts.get((kinds, events))
    if text is None:
        text = _texts[kinds, events] = _statement(kinds, events)
    return text


def _joined(arrays: list[str]) -> str:
    """JSON arrays made one: `[a]`, `[b, c]` -> `[a,b, c]`."""
    return "[" + ",".join(a[1:-1] for a in arrays if a != "[]") + "]"


def _statement(kinds: tuple[str, ...], events: bool) -> str:
    """`WITH w0 AS (...), w1 AS (...) <last>`: the last write is the statement, the others its WITH queries."""
    parts = [_STATEMENTS[kind] for kind in kinds]
    if events:
        parts.append(INSERT_EVENTS)
    *first, last = parts
    if not first:
        return last
    return "WITH " + ", ".join(f"w{i} AS ({part})" for i, part in enumerate(first)) + " " + last
