"""Whatever happens to the paper exchange, its books balance and its stream reads right to the engine.

Random sequences of submissions, cancels, replaces, price moves and sessions, under random fill
behaviour and account types. After each sequence:

- cash is the starting cash less the signed sum of the fill notionals;
- each order's filled quantity is the sum of its fills, and it is filled exactly when complete;
- each position is the signed sum of its fills, with the cost basis the core's `apply_fill` gives;
- equity and buying power follow from cash, positions and prices;
- the core's order state machine, fed the stream, accepts every event and ends where the
  exchange's order is (so the engine, reading this stream, agrees with the exchange).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Coroutine
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.paper import PaperExchange
from tests.unit.paper_support import MONDAY_10AM_ET, new_exchange
from trading_core.broker_models import TradeUpdate
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.errors import BrokerRejected, OrderNotCancelable
from trading_core.fills import Fill
from trading_core.lifecycle import apply_event, fill_order, mark_submitted
from trading_core.orders import Order, TradeEvent
from trading_core.ports import OrderFilter
from trading_core.positions import Position, apply_fill
from trading_core.values import ZERO, BrokerOrderId, ClientOrderId, ExecutionId, OrderId, Symbol

T = TypeVar("T")
SYMBOLS = [Symbol("AAPL"), Symbol("KO")]
START = Decimal(100_000)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine of the exchange, which never suspends, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        value: T = done.value
        return value
    raise AssertionError("the exchange suspended")


@attrs.frozen
class Submit:
    symbol: Symbol
    side: Side
    type: OrderType
    tif: TimeInForce
    quantity: Decimal
    offset_cents: int  # limit/stop distance from the current price


@attrs.frozen
class Cancel:
    pick: int


@attrs.frozen
class Replace:
    pick: int
    quantity: Decimal | None
    offset_cents: int


@attrs.frozen
class Move:
    symbol: Symbol
    cents: int


@attrs.frozen
class Session:
    open: bool


quantities = st.one_of(
    st.integers(1, 60).map(Decimal),
    st.integers(1, 500).map(lambda n: Decimal(n).scaleb(-2)),
    st.integers(200, 1_200).map(Decimal),  # large enough to run into buying power
)
submits = st.builds(
    Submit,
    st.sampled_from(SYMBOLS),
    st.sampled_from(list(Side)),
    st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT]),
    st.sampled_from([TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    quantities,
    st.integers(-300, 300),
)
_KINDS = (
    (9, submits),
    (5, st.builds(Move, st.sampled_from(SYMBOLS), st.integers(-400, 400))),
    (2, st.builds(Cancel, st.integers(0, 50))),
    (2, st.builds(Replace, st.integers(0, 50), st.none() | st.integers(1, 40).map(Decimal), st.integers(-300, 300))),
    (1, st.builds(Session, st.booleans())),
)
operations = st.sampled_from([kind for weight, kind in _KINDS for _ in range(weight)]).flatmap(lambda kind: kind)
"""Mostly submissions and price moves; now and then a cancel, a replace, an open or a close."""
configs = st.fixed_dictionaries(
    {
        "account_type": st.sampled_from(["cash", "margin"]),
        "fill_parts": st.integers(1, 3),
        "max_fill_quantity": st.none() | st.sampled_from([Decimal(3), Decimal("7.5")]),
        "reject_flips": st.booleans(),
    }
)


def _prices(submit: Submit, current: Decimal) -> tuple[Decimal | None, Decimal | None]:
    level = max(Decimal("0.01"), current + Decimal(submit.offset_cents).scaleb(-2))
    if submit.type is OrderType.LIMIT:
        return level, None
    if submit.type is OrderType.STOP:
        return None, level
    if submit.type is OrderType.STOP_LIMIT:
        return level, level
    return None, None


def _apply(exchange: PaperExchange, op: object, count: int) -> None:
    if isinstance(op, Submit):
        limit, stop = _prices(op, exchange.price(op.symbol))
        sent = Order(
            id=OrderId(f"o{count}"),
            client_order_id=ClientOrderId(f"c{count}"),
            symbol=op.symbol,
            side=op.side,
            type=op.type,
            time_in_force=op.tif,
            quantity=op.quantity,
            limit_price=limit,
            stop_price=stop,
            status=OrderStatus.PENDING_NEW,
            created_at=MONDAY_10AM_ET,
            updated_at=MONDAY_10AM_ET,
        )
        run(exchange.submit_order(sent))
    elif isinstance(op, Cancel | Replace):
        known = run(exchange.list_orders()) or run(exchange.list_orders(status=OrderFilter.ALL))
        if not known:
            return
        target = known[op.pick % len(known)]
        if isinstance(op, Cancel):
            run(exchange.cancel_order(target.broker_order_id))
        else:
            level = max(Decimal("0.01"), exchange.price(target.symbol) + Decimal(op.offset_cents).scaleb(-2))
            run(
                exchange.replace_order(
                    target.broker_order_id,
                    client_order_id=ClientOrderId(f"r{count}"),
                    quantity=op.quantity,
                    limit_price=level if target.limit_price is not None else None,
                    stop_price=level if target.stop_price is not None else None,
                )
            )
    elif isinstance(op, Move):
        exchange.set_price(op.symbol, max(Decimal("0.01"), exchange.price(op.symbol) + Decimal(op.cents).scaleb(-2)))
    elif isinstance(op, Session):
        exchange.open_market() if op.open else exchange.close_market()


def _replay_order(updates: list[TradeUpdate]) -> Order:
    """Feed one order's stream to the core's state machine, as the engine does."""
    first = updates[0].order
    now = datetime.now().astimezone()
    order = Order(
        id=OrderId(first.broker_order_id),
        client_order_id=first.client_order_id,
        symbol=first.symbol,
        side=first.side,
        type=first.type,
        time_in_force=first.time_in_force,
        quantity=first.quantity,
        limit_price=first.limit_price,
        stop_price=first.stop_price,
        status=OrderStatus.PENDING_NEW,
        created_at=now,
        updated_at=now,
    )
    order, _ = mark_submitted(
        order, broker_order_id=first.broker_order_id, status=first.status, now=now, ts_event=updates[0].timestamp
    )
    for update in updates:
        if update.is_fill:
            assert update.execution_id is not None
            assert update.quantity is not None
            assert update.price is not None
            fill = Fill(
                order_id=order.id,
                execution_id=ExecutionId(update.execution_id),
                symbol=order.symbol,
                side=order.side,
                quantity=update.quantity,
                price=update.price,
                timestamp=update.timestamp,
            )
            filled = fill_order(order, fill, now=now)
            assert filled is not None
            order = filled
        else:
            order, _ = apply_event(order, TradeEvent(update.event), now=now, ts_event=update.timestamp)
    return order


def _check(exchange: PaperExchange, updates: list[TradeUpdate], *, reject_flips: bool) -> None:
    cash = START
    positions = {s: Position.flat(s) for s in SYMBOLS}
    by_order: dict[BrokerOrderId, list[TradeUpdate]] = defaultdict(list)
    for update in updates:
        by_order[update.order.broker_order_id].append(update)
        if not update.is_fill:
            continue
        assert update.quantity is not None
        assert update.price is not None
        side, symbol = update.order.side, update.order.symbol
        cash += -update.quantity * update.price if side is Side.BUY else update.quantity * update.price
        before = positions[symbol]
        positions[symbol] = apply_fill(
            before, side=side, quantity=update.quantity, price=update.price, at=update.timestamp
        ).after
        assert update.position_quantity == positions[symbol].quantity
        if reject_flips:
            assert before.quantity * positions[symbol].quantity >= 0, "a fill took a position through zero"

    account = run(exchange.get_account())
    held = {p.symbol: p for p in run(exchange.list_positions())}
    assert cash == account.cash
    for symbol, expected in positions.items():
        actual = held.get(symbol)
        assert (expected.quantity, expected.cost_basis) == (
            (actual.quantity, actual.cost_basis) if actual else (ZERO, ZERO)
        )
    market_value = sum((p.quantity * exchange.price(s) for s, p in positions.items()), ZERO)
    gross = sum((abs(p.quantity) * exchange.price(s) for s, p in positions.items()), ZERO)
    assert account.cash + market_value == account.equity
    if not run(exchange.list_orders()):
        assert max(account.equity * account.multiplier - gross, ZERO) == account.buying_power

    for broker_order_id, stream in by_order.items():
        stored = run(exchange.get_order(broker_order_id))
        fills = sum((u.quantity for u in stream if u.is_fill and u.quantity is not None), ZERO)
        assert fills == stored.filled_quantity
        assert (stored.status is OrderStatus.FILLED) == (stored.filled_quantity == stored.quantity)
        replayed = _replay_order(stream)
        assert (stored.status, stored.filled_quantity) == (replayed.status, replayed.filled_quantity)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs, ops=st.lists(operations, min_size=10, max_size=60))
def test_books_balance_and_the_stream_replays_on_the_core_state_machine(
    config: dict[str, Any], ops: list[object]
) -> None:
    exchange = new_exchange(**config)
    updates: list[TradeUpdate] = []

    for count, op in enumerate(ops):
        # A refusal is a legitimate outcome; it must leave no trace, which the checks would see.
        with contextlib.suppress(BrokerRejected, OrderNotCancelable):
            _apply(exchange, op, count)
        updates += exchange.drain_updates()

    _check(exchange, updates, reject_flips=config["reject_flips"])
