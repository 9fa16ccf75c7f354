"""What the engine answers without changing anything: orders, fills, positions, the account, risk status.

`TradingEngine` inherits these reads; they only read its parts (the book, the store, the broker's
facts) and its history room, so they sit apart from the rooms that change things.
"""

from __future__ import annotations

from datetime import date, datetime

from trading_core.engine.history import History
from trading_core.engine.parts import EngineParts
from trading_core.enums import Side
from trading_core.errors import PositionNotFound
from trading_core.history import DayPnl, FillPage, check_page_size, history_filter
from trading_core.market import EASTERN
from trading_core.orders import Order
from trading_core.ports import OrderFilter, OrderPage
from trading_core.protective import protecting
from trading_core.values import OrderId, Symbol, money
from trading_core.views import AccountView, PortfolioView, PositionView, RiskStatus


class EngineReads:
    """The engine's queries, over the parts the engine builds (`TradingEngine` sets both attributes)."""

    _parts: EngineParts
    _history: History

    async def risk_status(self) -> RiskStatus:
        """The trading state, today's P&L and the day trades counted."""
        trading = self._parts.trading
        account = await self._parts.account.account()
        return RiskStatus(
            trading_state=trading.state,
            reason=trading.record.reason,
            changed_at=trading.record.changed_at,
            changed_by=trading.record.changed_by,
            daily_pnl=account.daily_pnl,
            daytrade_count=self._day_trade_count(),
        )

    def _day_trade_count(self) -> int:
        today = self._parts.clock.now().astimezone(EASTERN).date()
        return self._parts.book.day_trades.count(today, self._parts.config.limits.day_trade_window_days)

    # ----------------------------------------------------------------- queries

    async def get_order(self, order_id: OrderId | str) -> Order:
        """The order with `order_id`.

        Raises:
            OrderNotFound: no order has that id.
        """
        return await self._parts.order(order_id)

    async def list_orders(
        self,
        *,
        status: OrderFilter = OrderFilter.OPEN,
        limit: int = 100,
        cursor: str | None = None,
        symbol: str | None = None,
        side: str | Side | None = None,
        strategy_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> OrderPage:
        """A page of at most `limit` orders, newest first: those in `symbol`, on `side`, of
        `strategy_id` and created in [since, until), each None for any. `limit` is 1 to
        `MAX_PAGE_SIZE` (500, as the API's `?limit=`); page on with the page's `next_cursor`.

        Raises:
            ValueError: `limit` is below 1 or above 500, `side` is neither buy nor sell,
                `strategy_id` is no UUID, or `since` or `until` is naive.
            TypeError: `limit` is not an int, or `since` or `until` is not a datetime.
        """
        check_page_size(limit)
        where = history_filter(symbol=symbol, side=side, strategy_id=strategy_id, since=since, until=until)
        return await self._history.orders(status, limit, cursor, where)

    async def list_fills(
        self,
        *,
        limit: int = 100,
        cursor: str | None = None,
        symbol: str | None = None,
        side: str | Side | None = None,
        strategy_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> FillPage:
        """A page of at most `limit` fills (1 to `MAX_PAGE_SIZE`, 500), newest first, filtered as
        `list_orders` (by their time; the rest are their order's).

        Raises:
            ValueError: `limit` is below 1 or above 500, `side` is neither buy nor sell,
                `strategy_id` is no UUID, or `since` or `until` is naive.
            TypeError: `limit` is not an int, or `since` or `until` is not a datetime.
        """
        check_page_size(limit)
        where = history_filter(symbol=symbol, side=side, strategy_id=strategy_id, since=since, until=until)
        return await self._history.fills(where, limit, cursor)

    async def realized_pnl(self, *, day: date | None = None, strategy_id: str | None = None) -> DayPnl:
        """What a New York trading day (today by default) realized, by strategy id, across every
        position opened and closed in it; only `strategy_id`'s when given.

        Raises:
            TypeError: `day` is not a date (a datetime included).
            ValueError: `strategy_id` is no UUID.
        """
        strategy = None if strategy_id is None else history_filter(strategy_id=strategy_id).strategy_id
        return await self._history.realized(day, strategy)

    async def find_position(self, symbol: str) -> PositionView | None:
        """The open position in `symbol`, valued at its mark; None when flat (`get_position` raises)."""
        position = self._parts.book.positions.get(Symbol(symbol))
        return None if position is None else PositionView.of(position, await self._parts.facts.mark(position.symbol))

    def protective_orders(self, symbol: str) -> list[Order]:
        """The open orders protecting the position in `symbol` (`protective.protecting`); none when flat."""
        sym = Symbol(symbol)
        return protecting(self._parts.book.held(sym), self._parts.book.open_orders_in(sym))

    async def get_position(self, symbol: str) -> PositionView:
        """The open position in `symbol`, valued at its mark.

        Raises:
            PositionNotFound: no position is open in `symbol`.
        """
        sym = Symbol(symbol)
        position = self._parts.book.positions.get(sym)
        if position is None:
            raise PositionNotFound(f"no open position in {sym}", details={"symbol": sym})
        return PositionView.of(position, await self._parts.facts.mark(sym))

    async def list_positions(self) -> PortfolioView:
        """Every open position, with equity and buying power."""
        facts = self._parts.facts
        views = [PositionView.of(p, await facts.mark(s)) for s, p in sorted(self._parts.book.positions.items())]
        account = await self._parts.account.account()
        return PortfolioView(
            positions=tuple(views), total_equity=money(account.equity), buying_power=money(account.buying_power)
        )

    async def get_account(self) -> AccountView:
        """The broker's account, read fresh (which also checks the figures kept here), with the
        day-trade count and the trading state."""
        account = await self._parts.account.read()
        limits = self._parts.config.limits
        count = self._day_trade_count()
        restricted = (
            limits.enable_day_trade_budget
            and account.equity < limits.day_trade_equity_threshold
            and count >= limits.max_day_trades
        )
        return AccountView(
            account_id=account.account_id,
            # In cents, as the positions' values are: one scale whatever the broker's arithmetic
            # left (a fractional fill moves cash by a fraction of a cent).
            equity=money(account.equity),
            cash=money(account.cash),
            buying_power=money(account.buying_power),
            last_equity=money(account.last_equity),
            daytrade_count=count,
            pattern_day_trader=restricted,
            trading_blocked=account.trading_blocked,
            account_blocked=account.account_blocked,
            trading_state=self._parts.trading.state,
        )
