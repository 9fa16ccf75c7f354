"""What happened, as the store keeps it: filters over orders and fills, the positions that closed,
the day's realized P&L and snapshots of the portfolio's value.

A position's own `realized_pnl` starts again at zero each time it reopens from flat, so it cannot
tell what a day, or a strategy, realized; each fill keeps what it realized instead
(`Fill.realized_pnl`), and the store adds those up by New York trading day and strategy id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

import attrs

from trading_core.enums import PositionSide, Side
from trading_core.fills import Fill
from trading_core.market import EASTERN
from trading_core.orders import Order
from trading_core.positions import PositionChange
from trading_core.values import ZERO, OrderId, Symbol, canonical_uuid

__all__ = [
    "MAX_PAGE_SIZE",
    "ClosedPosition",
    "ClosedPositionPage",
    "DayPnl",
    "FillPage",
    "HistoryFilter",
    "PortfolioSnapshot",
    "Timeframe",
    "check_instant",
    "check_page_size",
    "closed_position",
    "day_bounds",
    "history_filter",
    "in_timeframe",
]


@attrs.frozen(kw_only=True)
class HistoryFilter:
    """Which orders (by their creation) or fills (by their execution) a listing returns; None matches any."""

    symbol: Symbol | None = None
    side: Side | None = None
    strategy_id: str | None = None
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""

    @property
    def is_empty(self) -> bool:
        """Whether it lets everything through."""
        return self == _ANY

    def admits(self, symbol: str, side: Side, strategy_id: str | None, at: datetime) -> bool:
        """Whether a row of `symbol`, `side` and `strategy_id`, made `at`, passes."""
        return (
            (self.symbol is None or symbol == self.symbol)
            and (self.side is None or side is self.side)
            and (self.strategy_id is None or strategy_id == self.strategy_id)
            and (self.since is None or at >= self.since)
            and (self.until is None or at < self.until)
        )

    def admits_order(self, order: Order) -> bool:
        """Whether `order` passes, by its creation time."""
        return self.admits(order.symbol, order.side, order.strategy_id, order.created_at)


_ANY = HistoryFilter()


def history_filter(
    *,
    symbol: str | None = None,
    side: str | Side | None = None,
    strategy_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> HistoryFilter:
    """A `HistoryFilter` from a caller's keywords, spelled as the engine keeps them.

    Raises:
        ValueError: `side` is neither buy nor sell, `strategy_id` is no UUID (strategy ids are), or
            `since` or `until` is naive.
        TypeError: `since` or `until` is not a datetime.
    """
    check_instant("since", since)
    check_instant("until", until)
    strategy = None
    if strategy_id is not None:
        strategy = canonical_uuid(strategy_id)
        if strategy is None:
            raise ValueError(f"strategy_id must be a UUID, was {strategy_id!r}")
    return HistoryFilter(
        symbol=None if symbol is None else Symbol(symbol.upper()),
        side=None if side is None else Side(side),
        strategy_id=strategy,
        since=since,
        until=until,
    )


def check_instant(name: str, moment: object) -> None:
    """Refuse a bound of a listing that names no instant: one that is not a datetime, or a naive one
    (compared with the aware times kept, it would fail or, on another store, shift by the offset).

    Raises:
        TypeError: `moment` is neither None nor a datetime.
        ValueError: `moment` is a naive datetime.
    """
    if moment is None:
        return
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, was {type(moment).__name__}: {str(moment)[:80]}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone, was {moment.isoformat()}")


MAX_PAGE_SIZE = 500
"""The most a listing returns at once (orders, fills, closed positions), in the library as over
HTTP (`?limit=`, 1 to this): a larger page is read and held whole, and the cursor pages on."""


def check_page_size(limit: object) -> None:
    """Refuse a listing's `limit` that is no whole number from 1 to `MAX_PAGE_SIZE`.

    Raises:
        TypeError: `limit` is not an int (a bool included).
        ValueError: `limit` is below 1 or above `MAX_PAGE_SIZE`.
    """
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise TypeError(f"limit must be an int, was {type(limit).__name__}: {str(limit)[:80]}")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be from 1 to {MAX_PAGE_SIZE}, was {limit}: page on with the cursor")


@attrs.frozen
class FillPage:
    """One page of fills, newest first; `next_cursor` is opaque and None on the last page."""

    fills: Sequence[Fill]
    next_cursor: str | None = None


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class ClosedPosition:
    """A position from the fill that opened it from flat to the fill that took it to flat (or through it)."""

    symbol: Symbol
    side: PositionSide
    opened_at: datetime | None
    closed_at: datetime
    realized_pnl: Decimal
    """Everything it realized, exactly: every reduction from its opening to its close."""
    order_id: OrderId
    """The order whose fill closed it."""
    execution_id: str
    """That fill's execution id: with the order's id, what names this record."""


@attrs.frozen
class ClosedPositionPage:
    """One page of closed positions, the latest closed first."""

    positions: Sequence[ClosedPosition]
    next_cursor: str | None = None


def closed_position(change: PositionChange, fill: Fill) -> ClosedPosition | None:
    """The position `fill` closed (on a flip, the side it left), or None when it closed none."""
    if change.closed_leg is not None:
        final = change.closed_leg
    elif change.closed:
        final = change.after
    else:
        return None
    return ClosedPosition(
        symbol=fill.symbol,
        side=change.before.side,
        opened_at=final.opened_at,
        closed_at=fill.timestamp,
        realized_pnl=final.realized_pnl,
        order_id=fill.order_id,
        execution_id=fill.execution_id,
    )


@attrs.frozen(kw_only=True)
class DayPnl:
    """What one New York trading day realized, in all and by strategy id (None: orders without one)."""

    day: date
    by_strategy: Mapping[str | None, Decimal]

    @property
    def total(self) -> Decimal:
        """The day's realized P&L over every strategy."""
        return sum(self.by_strategy.values(), ZERO)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a New York calendar day runs between: [start, end)."""
    start = datetime.combine(day, time(), tzinfo=EASTERN)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=EASTERN)
    return start.astimezone(UTC), end.astimezone(UTC)


@attrs.frozen(kw_only=True, slots=False)  # a __dict__: built per order (docs/architecture.md, "Speed")
class PortfolioSnapshot:
    """The portfolio's value at one moment (after a fill, or on the snapshot interval)."""

    taken_at: datetime
    equity: Decimal
    cash: Decimal
    exposure: Decimal
    """The positions' gross value at their marks: longs and shorts alike counted positive."""
    realized_pnl: Decimal
    """Realized on the New York trading day of `taken_at`, every strategy."""
    unrealized_pnl: Decimal
    """What closing every open position at its mark would realize."""


class Timeframe(StrEnum):
    """How finely a portfolio history is drawn: one snapshot (the last) per span, as Alpaca names them."""

    MINUTE = "1Min"
    FIVE_MINUTES = "5Min"
    FIFTEEN_MINUTES = "15Min"
    HOUR = "1H"
    DAY = "1D"
    ALL = "all"
    """Every snapshot kept."""

    @property
    def span(self) -> timedelta | None:
        """The span of one point; None for every snapshot."""
        return _SPANS.get(self)


_SPANS = {
    Timeframe.MINUTE: timedelta(minutes=1),
    Timeframe.FIVE_MINUTES: timedelta(minutes=5),
    Timeframe.FIFTEEN_MINUTES: timedelta(minutes=15),
    Timeframe.HOUR: timedelta(hours=1),
    Timeframe.DAY: timedelta(days=1),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def in_timeframe(snapshots: Iterable[PortfolioSnapshot], timeframe: Timeframe) -> list[PortfolioSnapshot]:
    """The last snapshot of each span of `timeframe` (days are New York days), oldest first.

    `snapshots` come oldest first, as the store lists them.
    """
    return list(_last_of_each(snapshots, timeframe))


def _last_of_each(snapshots: Iterable[PortfolioSnapshot], timeframe: Timeframe) -> Iterator[PortfolioSnapshot]:
    span = timeframe.span
    if span is None:
        yield from snapshots
        return
    current: object = None
    last: PortfolioSnapshot | None = None
    for snapshot in snapshots:
        key = _bucket(snapshot.taken_at, span, timeframe)
        if last is not None and key != current:
            yield last
        current, last = key, snapshot
    if last is not None:
        yield last


def _bucket(moment: datetime, span: timedelta, timeframe: Timeframe) -> object:
    if timeframe is Timeframe.DAY:
        return moment.astimezone(EASTERN).date()
    return (moment - _EPOCH) // span
