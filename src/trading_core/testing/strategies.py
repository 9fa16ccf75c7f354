"""Hypothesis strategies for the domain's values: requests, fills, positions, accounts, contexts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from trading_core.enums import OrderType, Side, TimeInForce, TradingState
from trading_core.fills import Fill
from trading_core.market import EASTERN, Account, Asset, MarketClock, Session
from trading_core.orders import Order, TradeEvent
from trading_core.positions import Position
from trading_core.requests import OrderRequest
from trading_core.risk.context import RiskContext
from trading_core.risk.limits import RiskLimits
from trading_core.values import ExecutionId, Symbol

_EPOCH = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def symbols() -> st.SearchStrategy[Symbol]:
    """Tickers such as `AAPL` or `BRK.B`."""
    base = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=5)
    suffix = st.sampled_from(["", ".A", ".B"])
    return st.builds(lambda b, s: Symbol(b + s), base, suffix)


def quantities(max_value: int = 10_000, *, fractional: bool = True) -> st.SearchStrategy[Decimal]:
    """Positive quantities at the schema's four places (whole shares when not `fractional`)."""
    if not fractional:
        return st.integers(1, max_value).map(Decimal)
    return st.integers(1, max_value * 10_000).map(lambda n: Decimal(n).scaleb(-4))


def prices(min_cents: int = 1, max_cents: int = 100_000) -> st.SearchStrategy[Decimal]:
    """Prices in whole cents, valid for any order type under the sub-penny rule."""
    return st.integers(min_cents, max_cents).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def order_requests(
    draw: st.DrawFn,
    *,
    symbol: st.SearchStrategy[Symbol] | None = None,
    types: tuple[OrderType, ...] = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT),
    sides: tuple[Side, ...] = (Side.BUY, Side.SELL),
    quantity: st.SearchStrategy[Decimal] | None = None,
) -> OrderRequest:
    """Valid order requests (always with a quantity) of one of `types`, trailing stops included."""
    order_type = draw(st.sampled_from(types))
    limit = draw(prices()) if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    stop = draw(prices()) if order_type in (OrderType.STOP, OrderType.STOP_LIMIT) else None
    trail_price = trail_percent = None
    if order_type is OrderType.TRAILING_STOP:
        if draw(st.booleans()):
            trail_price = draw(prices(max_cents=10_000))
        else:
            trail_percent = draw(st.integers(1, 2_000).map(lambda n: Decimal(n).scaleb(-2)))
        tifs = [TimeInForce.DAY, TimeInForce.GTC]
    else:
        tifs = [TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]
    tif = draw(st.sampled_from(tifs))
    extended = order_type is OrderType.LIMIT and tif is TimeInForce.DAY and draw(st.booleans())
    return OrderRequest.create(
        symbol=draw(symbol if symbol is not None else symbols()),
        side=draw(st.sampled_from(sides)),
        type=order_type,
        quantity=draw(quantity if quantity is not None else quantities(1_000, fractional=False)),
        time_in_force=tif,
        limit_price=limit,
        stop_price=stop,
        trail_price=trail_price,
        trail_percent=trail_percent,
        extended_hours=extended,
    )


def reducing_requests(
    position: Position,
    *,
    types: tuple[OrderType, ...] = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT),
) -> st.SearchStrategy[OrderRequest]:
    """Requests that only reduce the open `position`: opposite side, at most its size.

    Raises:
        ValueError: The position is flat: nothing reduces it.
    """
    if not position.quantity:
        raise ValueError(f"a flat position cannot be reduced: {position.symbol} holds nothing")
    held = abs(position.quantity)
    ticks = st.integers(1, int(held * 10_000)).map(lambda n: Decimal(n).scaleb(-4))
    return order_requests(
        symbol=st.just(position.symbol),
        types=types,
        sides=(Side.SELL if position.quantity > 0 else Side.BUY,),
        quantity=ticks,
    )


@st.composite
def fills_for(draw: st.DrawFn, order: Order, *, max_fills: int = 5) -> list[Fill]:
    """Fills that together fill `order` partly or completely, each with a new execution id."""
    remaining = order.quantity - order.filled_quantity
    fills: list[Fill] = []
    for index in range(draw(st.integers(1, max_fills))):
        if remaining <= 0:
            break
        ticks = int(remaining * 10_000)
        qty = Decimal(draw(st.integers(1, ticks))).scaleb(-4)
        remaining -= qty
        fills.append(
            Fill(
                order_id=order.id,
                execution_id=ExecutionId(f"{order.id}-x{index}-{draw(st.integers(0, 10**9))}"),
                symbol=order.symbol,
                side=order.side,
                quantity=qty,
                price=draw(prices()),
                timestamp=_EPOCH + timedelta(seconds=index),
            )
        )
    return fills


def trade_events() -> st.SearchStrategy[TradeEvent]:
    """Broker status events (fills excluded: they carry a quantity)."""
    return st.sampled_from([e for e in TradeEvent if e not in (TradeEvent.FILL, TradeEvent.PARTIAL_FILL)])


@st.composite
def positions(draw: st.DrawFn, symbol: Symbol | None = None) -> Position:
    """Open positions, long or short, with an exact cost basis."""
    qty = draw(quantities(5_000, fractional=False)) * draw(st.sampled_from([1, -1]))
    entry = draw(prices())
    return Position(symbol=symbol or draw(symbols()), quantity=qty, cost_basis=qty * entry, opened_at=_EPOCH)


@st.composite
def accounts(draw: st.DrawFn, *, min_equity: int = 1_000, max_equity: int = 10_000_000) -> Account:
    """Accounts with equity, cash, buying power and yesterday's equity."""
    equity = Decimal(draw(st.integers(min_equity, max_equity)))
    last = equity + Decimal(draw(st.integers(-int(equity) // 10, int(equity) // 10)))
    return Account(
        account_id="acct-test",
        cash=equity,
        equity=equity,
        buying_power=equity * draw(st.sampled_from([1, 2, 4])),
        last_equity=max(last, Decimal(1)),
    )


def assets(symbol: Symbol) -> st.SearchStrategy[Asset]:
    """An asset for `symbol` with random flags and sector."""
    return st.builds(
        Asset,
        symbol=st.just(symbol),
        tradable=st.booleans(),
        shortable=st.booleans(),
        fractionable=st.booleans(),
        sector=st.sampled_from([None, "Information Technology", "Energy", "Health Care"]),
    )


def session_at(moment: datetime) -> Session:
    """The US equity session at `moment` on a weekday (exchange holidays are not modelled)."""
    t = moment.astimezone(EASTERN).time()
    if time(4) <= t < time(9, 30):
        return Session.PRE_MARKET
    if time(9, 30) <= t < time(16):
        return Session.REGULAR
    if time(16) <= t < time(20):
        return Session.AFTER_HOURS
    return Session.CLOSED


@st.composite
def clocks(draw: st.DrawFn) -> MarketClock:
    """Market clocks at any minute of a weekday, open exactly in the regular session."""
    day = datetime(2026, 3, 2, tzinfo=EASTERN) + timedelta(days=draw(st.integers(0, 4)))
    moment = (day + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))).astimezone(UTC)
    session = session_at(moment)
    return MarketClock(
        timestamp=moment,
        is_open=session is Session.REGULAR,
        next_open=moment + timedelta(hours=12),
        next_close=moment + timedelta(hours=6),
        session=session,
    )


@st.composite
def risk_contexts(draw: st.DrawFn, symbol: Symbol) -> RiskContext:
    """Risk contexts around `symbol`: maybe a position in it, a few in other symbols, no open orders."""
    held = draw(st.none() | positions(symbol))
    others = draw(st.lists(positions(), max_size=4, unique_by=lambda p: p.symbol))
    book = {p.symbol: p for p in others if p.symbol != symbol}
    if held is not None:
        book[symbol] = held
    marks = {s: draw(prices()) for s in (symbol, *book)}
    return RiskContext(
        account=draw(accounts()),
        clock=draw(clocks()),
        positions=book,
        marks=marks,
        assets={s: draw(assets(s)) for s in marks},
        trading_state=draw(st.sampled_from(list(TradingState))),
    )


def risk_limits() -> st.SearchStrategy[RiskLimits]:
    """Risk limits from very tight to loose, so that contexts often breach them."""
    percent = st.integers(1, 10_000).map(lambda n: Decimal(n).scaleb(-2))
    return st.builds(
        RiskLimits,
        max_position_size_percent=percent,
        max_sector_exposure_percent=percent,
        max_daily_loss_percent=percent.map(lambda p: p / 10),
        max_open_positions=st.integers(0, 6),
        enable_wash_trade_protection=st.booleans(),
        enable_day_trade_budget=st.booleans(),
        max_day_trades=st.integers(0, 4),
        day_trade_window_days=st.integers(1, 10),
        day_trade_equity_threshold=st.integers(0, 50_000).map(Decimal),
    )
