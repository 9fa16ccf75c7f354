"""What happened: fills (filtered and paged as orders), closed positions with their realized P&L
(the spec's position "History"), and the portfolio's value over time (issue #19)."""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import datetime
from typing import Annotated, Final, Literal

from litestar import Controller, get
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from apps.service.controllers.docs import Engine, errors
from apps.service.history_schemas import (
    AccountHistoryBody,
    ClosedPositionBody,
    ClosedPositionListBody,
    FillBody,
    FillListBody,
    SnapshotBody,
)
from apps.service.schema_fields import TICKER_PATTERN, UUID_PATTERN
from trading_core.errors import InvalidCursor
from trading_core.fills import Fill
from trading_core.history import MAX_PAGE_SIZE, ClosedPosition, PortfolioSnapshot, Timeframe
from trading_core.values import Symbol, at_four_places, money

SymbolQuery = Annotated[
    str | None, QueryParameter(pattern=TICKER_PATTERN, max_length=10, description="Only this ticker (AAPL).")
]
SideQuery = Annotated[Literal["buy", "sell"] | None, QueryParameter(description="Only this side.")]
StrategyQuery = Annotated[str | None, QueryParameter(pattern=UUID_PATTERN, description="Only this strategy's.")]
SinceQuery = Annotated[
    str | None, QueryParameter(description="From this instant (inclusive): RFC 3339, with its offset.")
]
UntilQuery = Annotated[
    str | None, QueryParameter(description="Before this instant (exclusive): RFC 3339, with its offset.")
]
LimitQuery = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
"""A page's size: the library's bound (`trading_core.history.MAX_PAGE_SIZE`)."""
AfterQuery = Annotated[str | None, QueryParameter(description="nextCursor of the previous page.")]
TimeframeName = Literal["1Min", "5Min", "15Min", "1H", "1D", "all"]


INSTANT_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""An RFC 3339 date-time, its offset included: a bare local time names no instant. Taken as text
and read here: typed `datetime`, the query would also take a number (seconds since 1970)."""
_INSTANT: Final = re.compile(INSTANT_PATTERN)


def aware(name: str, text: str | None) -> datetime | None:
    """A query's instant, RFC 3339 with its offset (`2026-03-02T15:00:00Z`).

    Raises:
        ValidationException: it is not one (400 INVALID_PARAMETER).
    """
    if text is None:
        return None
    moment = None
    if _INSTANT.fullmatch(text):
        # A leap second (:60) is the end of its minute's last second, as Python has none.
        stamp = text.upper()
        if stamp[17:19] == "60":
            stamp = f"{stamp[:17]}59.999999{stamp[19:].lstrip('.0123456789')}"
        with suppress(ValueError):
            moment = datetime.fromisoformat(stamp)
    if moment is None:
        message = "must be an RFC 3339 date-time with its offset, such as 2026-03-02T15:00:00Z"
        raise ValidationException(message, extra=[{"key": name, "message": message, "source": "query"}])
    return moment


def named_after(error: InvalidCursor) -> InvalidCursor:
    """The cursor's error, naming this API's query parameter."""
    return InvalidCursor(error.message, details={**error.details, "field": "after"})


class FillsController(Controller):
    path = "/api/v1/fills"
    tags = ["history"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/", responses=errors(), summary="List fills")
    async def list_fills(
        self,
        *,
        engine: Engine,
        symbol: SymbolQuery = None,
        side: SideQuery = None,
        strategyId: StrategyQuery = None,  # noqa: N803  # the query parameter's name
        since: SinceQuery = None,
        until: UntilQuery = None,
        limit: LimitQuery = 100,
        after: AfterQuery = None,
    ) -> FillListBody:
        """Executions newest first, filtered as orders are (symbol, side and strategy are their order's);
        `nextCursor` is there when more remain."""
        try:
            page = await engine.list_fills(
                symbol=symbol,
                side=side,
                strategy_id=strategyId,
                since=aware("since", since),
                until=aware("until", until),
                limit=limit,
                cursor=after,
            )
        except InvalidCursor as e:
            raise named_after(e) from e
        return FillListBody(fills=[fill_body(f) for f in page.fills], next_cursor=page.next_cursor)


class PositionHistoryController(Controller):
    path = "/api/v1/positions/history"
    tags = ["positions"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/", responses=errors(), summary="Closed positions")
    async def closed_positions(
        self,
        *,
        engine: Engine,
        symbol: SymbolQuery = None,
        since: SinceQuery = None,
        until: UntilQuery = None,
        limit: LimitQuery = 100,
        after: AfterQuery = None,
    ) -> ClosedPositionListBody:
        """Positions that went flat (or through flat) closed in [since, until), the latest first, each
        with everything it realized from its opening fill to its closing one."""
        try:
            page = await engine.history.closed_positions(
                Symbol(symbol) if symbol is not None else None,
                aware("since", since),
                aware("until", until),
                limit,
                after,
            )
        except InvalidCursor as e:
            raise named_after(e) from e
        return ClosedPositionListBody(positions=[closed_body(c) for c in page.positions], next_cursor=page.next_cursor)


class AccountHistoryController(Controller):
    path = "/api/v1/account/history"
    tags = ["account"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/", responses=errors(), summary="The portfolio's value over time")
    async def account_history(
        self,
        engine: Engine,
        timeframe: Annotated[
            TimeframeName, QueryParameter(description="One snapshot (the last) per span; all: every one.")
        ] = "5Min",
        since: SinceQuery = None,
        until: UntilQuery = None,
    ) -> AccountHistoryBody:
        """Snapshots of equity, cash, exposure, realized and unrealized P&L (taken at each fill and every
        `sync.snapshotInterval`) in [since, until), today in New York by default, oldest first."""
        snapshots = await engine.history.portfolio_history(
            aware("since", since), aware("until", until), Timeframe(timeframe)
        )
        return AccountHistoryBody(timeframe=timeframe, snapshots=[snapshot_body(s) for s in snapshots])


def fill_body(fill: Fill) -> FillBody:
    """A fill as the API shows it: quantities and prices at four places, money in cents."""
    return FillBody(
        order_id=fill.order_id,
        execution_id=fill.execution_id,
        symbol=fill.symbol,
        side=fill.side.value,
        quantity=at_four_places(fill.quantity),
        price=at_four_places(fill.price),
        commission=at_four_places(fill.commission),
        realized_pnl=money(fill.realized_pnl),
        timestamp=fill.timestamp,
    )


def closed_body(closed: ClosedPosition) -> ClosedPositionBody:
    """A closed position, its P&L in cents."""
    return ClosedPositionBody(
        symbol=closed.symbol,
        side=closed.side.value,
        opened_at=closed.opened_at,
        closed_at=closed.closed_at,
        realized_pnl=money(closed.realized_pnl),
        order_id=closed.order_id,
        execution_id=closed.execution_id,
    )


def snapshot_body(snapshot: PortfolioSnapshot) -> SnapshotBody:
    """A snapshot, every figure in cents."""
    return SnapshotBody(
        timestamp=snapshot.taken_at,
        equity=money(snapshot.equity),
        cash=money(snapshot.cash),
        exposure=money(snapshot.exposure),
        realized_pnl=money(snapshot.realized_pnl),
        unrealized_pnl=money(snapshot.unrealized_pnl),
    )
