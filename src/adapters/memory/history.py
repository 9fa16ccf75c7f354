"""The in-memory store's history beyond orders and fills: closed positions, portfolio snapshots and
the realized P&L by New York trading day and strategy id.

The realized P&L is added up as fills commit, so it stays whole when a bounded store
(`InMemoryOrderStore(history=N)`) forgets old fills: one figure per day and strategy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from itertools import count, islice

from adapters.cursor import decode_fill_cursor, encode_fill_cursor
from adapters.limits import check_limit
from trading_core.fills import Fill
from trading_core.history import ClosedPosition, ClosedPositionPage, PortfolioSnapshot
from trading_core.market import eastern_date
from trading_core.values import ZERO, Symbol

ClosedKey = tuple[datetime, str, str, ClosedPosition]
"""(closed_at, execution id, order id, the record): closed positions in time order."""

SnapshotKey = tuple[datetime, int, PortfolioSnapshot]
"""(taken_at, sequence, snapshot): snapshots in time order, those taken at one moment as they came."""


class History:
    """Closed positions, snapshots and realized P&L; at most `keep` of each kind of record when given.

    Args:
        keep: how many closed positions and snapshots are kept (the newest); None keeps them all.
    """

    __slots__ = ("closed", "keep", "realized", "sequence", "snapshots")

    def __init__(self, keep: int | None = None) -> None:
        self.keep = keep
        self.realized: dict[tuple[date, str | None], Decimal] = {}
        self.closed: list[ClosedKey] = []
        self.snapshots: list[SnapshotKey] = []
        self.sequence = count()

    def add_fill(self, fill: Fill, strategy_id: str | None) -> None:
        """Count what a committed fill realized on its day, for its order's strategy."""
        realized = fill.realized_pnl
        if realized:
            key = (eastern_date(fill.timestamp), strategy_id)
            self.realized[key] = self.realized.get(key, ZERO) + realized

    def realized_on(self, day: date) -> dict[str | None, Decimal]:
        """What each strategy realized on `day` (those that realized something, or nothing exactly)."""
        return {strategy: total for (on, strategy), total in self.realized.items() if on == day}

    def add_closed(self, closed: ClosedPosition) -> None:
        """Keep a closed position, the oldest forgotten beyond `keep`."""
        keys, key = self.closed, (closed.closed_at, closed.execution_id, closed.order_id, closed)
        if not keys or key[:3] >= keys[-1][:3]:  # the newest, as nearly always: appended
            keys.append(key)
        else:
            bisect.insort(keys, key, key=lambda k: k[:3])
        self._trim(self.closed)

    def add_snapshot(self, snapshot: PortfolioSnapshot) -> None:
        """Keep a snapshot, the oldest forgotten beyond `keep`."""
        keys, key = self.snapshots, (snapshot.taken_at, next(self.sequence), snapshot)
        if not keys or key[0] >= keys[-1][0]:
            keys.append(key)
        else:
            bisect.insort(keys, key, key=lambda k: k[:2])
        self._trim(self.snapshots)

    def snapshots_between(self, since: datetime, until: datetime) -> list[PortfolioSnapshot]:
        """Snapshots taken in [since, until), oldest first."""
        keys = self.snapshots
        start = bisect.bisect_left(keys, (since,))
        end = bisect.bisect_left(keys, (until,))
        return [key[2] for key in keys[start:end]]

    def closed_page(
        self,
        *,
        symbol: Symbol | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> ClosedPositionPage:
        """A page of closed positions, the latest first; see `OrderStore.list_closed_positions`.

        Raises:
            ValueError: `limit` is less than 1.
        """
        check_limit(limit)
        keys = self.closed
        end = len(keys)
        if cursor is not None:
            at, order_id, execution_id = decode_fill_cursor(cursor)
            end = bisect.bisect_left(keys, (at, execution_id, order_id))
        if until is not None:
            end = min(end, bisect.bisect_left(keys, (until,)))
        found = list(islice(_below(keys, end, symbol, since), limit + 1))
        page = found[:limit]
        if len(found) <= limit:
            return ClosedPositionPage(page)
        last = page[-1]
        return ClosedPositionPage(page, encode_fill_cursor(last.closed_at, last.order_id, last.execution_id))

    def _trim(self, keys: list[ClosedKey] | list[SnapshotKey]) -> None:
        keep = self.keep
        # A tenth over before trimming: one slice deletion now and then, not a shift per record.
        if keep is not None and len(keys) > keep + keep // 10:
            del keys[: len(keys) - keep]


def _below(keys: list[ClosedKey], end: int, symbol: Symbol | None, since: datetime | None) -> Iterator[ClosedPosition]:
    for index in range(end - 1, -1, -1):
        closed = keys[index][3]
        if since is not None and closed.closed_at < since:
            return
        if symbol is None or closed.symbol == symbol:
            yield closed
