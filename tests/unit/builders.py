"""Small builders for unit tests: an order, a fill, an account, a clock, a risk context."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from trading_core.daytrades import DayTrades
from trading_core.enums import OrderStatus, TradingState
from trading_core.fills import Fill
from trading_core.market import EASTERN, Account, Asset, MarketClock, Session
from trading_core.orders import Order
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.risk.context import RiskContext
from trading_core.values import ClientOrderId, ExecutionId, OrderId, Symbol

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
"""Monday 2 March 2026, 10:00 in New York (EST): the regular session is open."""

AAPL = Symbol("AAPL")
MSFT = Symbol("MSFT")
XOM = Symbol("XOM")
NO_DAY_TRADES = DayTrades()
_EXECUTIONS = itertools.count(1)


def D(text: str | int) -> Decimal:  # noqa: N802  # reads like the literal it stands for
    return Decimal(text)


def request(
    symbol: str = "AAPL", side: str = "buy", type: str = "market", quantity: object = "10", **kw: Any
) -> OrderRequest:
    """A valid request (a market buy of 10 AAPL by default); keywords go to `OrderRequest.create`."""
    if "notional" in kw:
        quantity = None
    return OrderRequest.create(symbol=symbol, side=side, type=type, quantity=quantity, **kw)


def order(
    req: OrderRequest | None = None,
    *,
    status: OrderStatus = OrderStatus.PENDING_NEW,
    order_id: str = "order-1",
) -> Order:
    """An order built from `req` (a market buy of 10 AAPL by default) in `status`."""
    new = Order.from_request(
        req or request(),
        order_id=OrderId(order_id),
        client_order_id=ClientOrderId(f"client-{order_id}"),
        now=NOW,
    )
    return new if status is OrderStatus.PENDING_NEW else attrs.evolve(new, status=status)


def fill(
    o: Order,
    quantity: str | Decimal,
    price: str | Decimal = "100",
    *,
    execution_id: str | None = None,
    seconds: int = 1,
) -> Fill:
    """A fill of `o` for `quantity` at `price`."""
    return Fill(
        order_id=o.id,
        execution_id=ExecutionId(execution_id or f"x-{next(_EXECUTIONS)}"),
        symbol=o.symbol,
        side=o.side,
        quantity=Decimal(quantity),
        price=Decimal(price),
        timestamp=NOW + timedelta(seconds=seconds),
    )


def position(symbol: Symbol, quantity: str | int, entry: str | int) -> Position:
    """An open position of signed `quantity` bought (or sold short) at `entry`."""
    qty = Decimal(quantity)
    return Position(symbol=symbol, quantity=qty, cost_basis=qty * Decimal(entry), opened_at=NOW)


def account(
    equity: str | int = "100000",
    *,
    buying_power: str | int | None = None,
    last_equity: str | int | None = None,
    **kw: object,
) -> Account:
    eq = Decimal(equity)
    return Account(
        account_id="acct-1",
        cash=eq,
        equity=eq,
        buying_power=eq if buying_power is None else Decimal(buying_power),
        last_equity=eq if last_equity is None else Decimal(last_equity),
        **kw,  # type: ignore[arg-type]
    )


def clock(at: datetime = NOW, *, session: Session | None = None) -> MarketClock:
    """The market clock at `at`; the session follows from the New York time unless given."""
    if session is None:
        t = at.astimezone(EASTERN).time()
        hhmm = t.hour * 100 + t.minute
        session = (
            Session.PRE_MARKET
            if 400 <= hhmm < 930
            else Session.REGULAR
            if 930 <= hhmm < 1600
            else Session.AFTER_HOURS
            if 1600 <= hhmm < 2000
            else Session.CLOSED
        )
    return MarketClock(
        timestamp=at,
        is_open=session is Session.REGULAR,
        next_open=at + timedelta(hours=12),
        next_close=at + timedelta(hours=6),
        session=session,
    )


def eastern(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """A moment on day `day` of March 2026 (the 2nd is a Monday), New York time."""
    return datetime(2026, 3, day, hour, minute, tzinfo=EASTERN)


def context(
    *,
    acct: Account | None = None,
    at: datetime = NOW,
    positions: Sequence[Position] = (),
    marks: Mapping[Symbol, Decimal] | None = None,
    assets: Sequence[Asset] | None = None,
    sectors: Mapping[Symbol, str] | None = None,
    open_orders: Sequence[Order] = (),
    day_trades: DayTrades = NO_DAY_TRADES,
    trading_state: TradingState = TradingState.ACTIVE,
    market: MarketClock | None = None,
) -> RiskContext:
    """A context where everything passes unless told otherwise: AAPL at $100, $100,000 equity."""
    held = {p.symbol: p for p in positions}
    symbols = {AAPL, MSFT, XOM, *held}
    sectors = sectors or {}
    return RiskContext(
        account=acct or account(),
        clock=market or clock(at),
        positions=held,
        marks=dict(marks) if marks is not None else dict.fromkeys(symbols, Decimal(100)),
        assets=(
            {a.symbol: a for a in assets}
            if assets is not None
            else {s: Asset(symbol=s, sector=sectors.get(s)) for s in symbols}
        ),
        open_orders=open_orders,
        day_trades=day_trades,
        trading_state=trading_state,
    )
