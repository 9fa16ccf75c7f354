"""The history room: what happened (orders and fills by filter, closed positions, the day's
realized P&L) and the portfolio's value over time.

Every committed run of fills is counted toward the day's realized P&L by strategy here, and
followed by a snapshot of the portfolio's value (`PortfolioSnapshot`); `snapshot()` takes one at
any other time (the service does, every `sync.snapshotInterval`). A snapshot that cannot be
stored is logged and skipped: the fill it follows has committed and must not be reported failed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from trading_core.engine.parts import EngineParts
from trading_core.errors import TradingError
from trading_core.fills import Fill
from trading_core.history import (
    ClosedPositionPage,
    DayPnl,
    FillPage,
    HistoryFilter,
    PortfolioSnapshot,
    Timeframe,
    check_instant,
    check_page_size,
    day_bounds,
    history_filter,
    in_timeframe,
)
from trading_core.market import eastern_date
from trading_core.orders import Order
from trading_core.ports import OrderFilter, OrderPage
from trading_core.positions import PositionChange
from trading_core.values import ZERO

log = logging.getLogger("trading_core.engine")

_STATUSES = frozenset(OrderFilter)


class History:
    """Listings of what happened, the day's realized P&L, and snapshots of the portfolio's value."""

    def __init__(self, parts: EngineParts) -> None:
        self._parts = parts
        self._day = date.min
        self._realized = ZERO
        """Realized on `_day` (New York), every strategy: each snapshot's `realized_pnl`."""
        parts.ledger.after_fills = self._after_fills

    async def load(self) -> None:
        """Take today's realized P&L from the store (at start: the fills before it count)."""
        today = eastern_date(self._parts.clock.now())
        by_strategy = await self._parts.store.realized_by_strategy(today)
        self._day, self._realized = today, sum(by_strategy.values(), ZERO)

    async def _after_fills(self, order: Order, executions: Sequence[tuple[PositionChange, Fill]]) -> None:
        for change, fill in executions:
            realized = change.realized_pnl
            if realized:
                day = eastern_date(fill.timestamp)
                if day != self._day:
                    self._day, self._realized = day, ZERO
                self._realized += realized
        await self.snapshot()

    def portfolio(self, now: datetime) -> PortfolioSnapshot | None:
        """The portfolio's value now, from the account kept; None before the account is first read."""
        book = self._parts.book
        kept = book.account
        if not kept.known:
            return None
        # The figures alone, not the `Account` they make (a value of ten fields), kept current as
        # positions and marks move: `equity` values what moved first, so gross_value is current.
        return PortfolioSnapshot(
            taken_at=now,
            equity=kept.equity,
            cash=kept.cash,
            exposure=kept.gross_value,
            realized_pnl=self._realized if eastern_date(now) == self._day else ZERO,
            unrealized_pnl=kept.unrealized_pnl,
        )

    async def snapshot(self) -> PortfolioSnapshot | None:
        """Take a snapshot of the portfolio's value and store it; None when there is none to take
        (the account not yet read) or it could not be stored (logged)."""
        snapshot = self.portfolio(self._parts.clock.now())
        if snapshot is None:
            return None
        try:
            await self._parts.store.add_snapshot(snapshot)
        except TradingError as e:
            log.warning("a portfolio snapshot could not be stored: %s", e)
            return None
        return snapshot

    async def orders(self, status: OrderFilter, limit: int, cursor: str | None, where: HistoryFilter) -> OrderPage:
        """A page of orders `where` admits, newest first.

        Raises:
            ValueError: `status` is none of open, closed and all.
        """
        if status not in _STATUSES:  # a string from strategy code would otherwise list everything
            raise ValueError(f"status must be open, closed or all, was {status!r}")
        return await self._parts.store.list_orders(status=OrderFilter(status), limit=limit, cursor=cursor, where=where)

    async def fills(self, where: HistoryFilter, limit: int, cursor: str | None) -> FillPage:
        """A page of fills `where` admits, newest first."""
        return await self._parts.store.find_fills(where=where, limit=limit, cursor=cursor)

    async def realized(self, day: date | None, strategy_id: str | None) -> DayPnl:
        """What `day` (today in New York by default) realized, by strategy; only `strategy_id`'s when given.

        Raises:
            TypeError: `day` is not a date (a datetime names no New York day of its own).
        """
        if day is not None and (isinstance(day, datetime) or not isinstance(day, date)):
            raise TypeError(f"day must be a date, was {type(day).__name__}: {str(day)[:80]}")
        on = day if day is not None else eastern_date(self._parts.clock.now())
        by_strategy: dict[str | None, Decimal] = await self._parts.store.realized_by_strategy(on)
        if strategy_id is not None:
            by_strategy = {strategy_id: by_strategy.get(strategy_id, ZERO)}
        return DayPnl(day=on, by_strategy=by_strategy)

    async def closed_positions(
        self,
        symbol: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ClosedPositionPage:
        """A page of at most `limit` (1 to `MAX_PAGE_SIZE`, 500) of the positions closed in
        [since, until) (any time by default), in `symbol` (any when None), the latest closed first.

        Raises:
            TypeError: `limit` is not an int, or `since` or `until` is not a datetime.
            ValueError: `limit` is below 1 or above 500, or `since` or `until` is naive.
            InvalidCursor: `cursor` is not one a listing of closed positions gave.
        """
        check_page_size(limit)
        where = history_filter(symbol=symbol, since=since, until=until)
        return await self._parts.store.list_closed_positions(
            symbol=where.symbol, since=since, until=until, limit=limit, cursor=cursor
        )

    async def portfolio_history(
        self, since: datetime | None = None, until: datetime | None = None, timeframe: Timeframe | str = "5Min"
    ) -> list[PortfolioSnapshot]:
        """The snapshots in [since, until) (today in New York by default), the last of each span of
        `timeframe` (`1Min`, `5Min`, `15Min`, `1H`, `1D`, or `all` for every one), oldest first.

        Raises:
            TypeError: `since` or `until` is not a datetime.
            ValueError: `since` or `until` is naive, or `timeframe` is none of those.
        """
        check_instant("since", since)
        check_instant("until", until)
        frame = Timeframe(timeframe)
        today = day_bounds(eastern_date(self._parts.clock.now()))
        start = since if since is not None else today[0]
        end = until if until is not None else max(today[1], start)
        return in_timeframe(await self._parts.store.list_snapshots(since=start, until=end), frame)
