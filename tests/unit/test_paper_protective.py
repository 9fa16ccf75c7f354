"""Protective orders on the paper exchange over random price paths (Hypothesis), and trailing stops.

- two exits of one OCO or bracket never both fill, and the exits never fill more than the entry;
- a trailing stop fills exactly at the first price that has come back by the trail from the
  extreme since it started to work, never before;
- a trailing stop's trail can be replaced; it works from the mark as it stands.
"""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.paper import PaperExchange
from tests.unit.paper_support import new_exchange
from tests.unit.test_protective import first_trigger  # the rule the paper exchange must keep
from trading_core import codes
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.errors import BrokerRejected
from trading_core.orders import Order, TradeEvent
from trading_core.requests import OrderRequest
from trading_core.values import ClientOrderId, new_order_id

T = TypeVar("T")
D = Decimal
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine of the exchange, which never suspends, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        value: T = done.value
        return value
    raise AssertionError("the exchange suspended")


def sent(**kw: Any) -> Order:
    request = OrderRequest.create(**{"symbol": "AAPL", "quantity": "10", "time_in_force": "gtc", **kw})
    return Order.from_request(
        request, order_id=new_order_id(), client_order_id=ClientOrderId(str(uuid.uuid4())), now=NOW
    )


def submit(exchange: PaperExchange, order: Order) -> BrokerOrder:
    return run(exchange.submit_order(order))


def fills_of(updates: list[TradeUpdate], broker_order_id: str) -> list[TradeUpdate]:
    return [u for u in updates if u.is_fill and u.order.broker_order_id == broker_order_id]


@st.composite
def paths(draw: st.DrawFn, start: int = 19_000) -> list[Decimal]:
    """Prices in whole cents, a random walk of up to 40 steps from `start` cents."""
    steps = draw(st.lists(st.integers(-300, 300), min_size=1, max_size=40))
    cents, path = start, []
    for step in steps:
        cents = max(100, cents + step)
        path.append(D(cents) / 100)
    return path


@settings(max_examples=150, deadline=None)
@given(
    order_class=st.sampled_from(["bracket", "oco"]),
    path=paths(),
    fill_parts=st.integers(1, 3),
    max_fill=st.sampled_from([None, 3, 4, 7]),
    tp_cents=st.integers(50, 1_500),
    sl_cents=st.integers(51, 1_500),
)
def test_over_any_price_path_two_exits_never_both_fill_nor_exceed_the_entry(
    *, order_class: str, path: list[Decimal], fill_parts: int, max_fill: int | None, tp_cents: int, sl_cents: int
) -> None:
    """At most `max_fill` shares execute per order and price move: an entry fills in steps."""
    exchange = new_exchange(fill_parts=fill_parts, max_fill_quantity=None if max_fill is None else D(max_fill))
    exchange.set_price("AAPL", D(190))
    tp, sl = D(190) + D(tp_cents) / 100, D(190) - D(sl_cents) / 100
    exits = {"take_profit": {"limit_price": str(tp)}, "stop_loss": {"stop_price": str(sl)}}
    if order_class == "oco":
        submit(exchange, sent(side="buy", type="market", time_in_force="day"))
        while not run(exchange.list_positions()) or run(exchange.list_positions())[0].quantity < 10:
            exchange.set_price("AAPL", D(190))  # each move fills up to `max_fill` more
        parent = submit(exchange, sent(side="sell", type="limit", order_class="oco", **exits))
        entry_filled = D(10)
    else:  # a limit entry a little under the price: it may fill on the way, partly or not at all
        parent = submit(exchange, sent(side="buy", type="limit", limit_price="189.50", order_class="bracket", **exits))
    group = [parent.broker_order_id, *(leg.broker_order_id for leg in parent.legs)]
    for price in path:
        exchange.set_price("AAPL", price)
        orders = {i: run(exchange.get_order(i)) for i in group}
        if order_class != "oco":
            entry_filled = orders[parent.broker_order_id].filled_quantity
        exit_orders = [o for i, o in orders.items() if order_class == "oco" or i != parent.broker_order_id]
        assert sum(o.filled_quantity for o in exit_orders) <= entry_filled
        assert not all(o.status is OrderStatus.FILLED for o in exit_orders)
    held = run(exchange.list_positions())
    assert all(p.quantity >= 0 for p in held)  # the exits never sold more than was bought


@settings(max_examples=150, deadline=None)
@given(
    side=st.sampled_from([Side.SELL, Side.BUY]),
    path=paths(),
    trail_cents=st.integers(1, 1_500),
    percent=st.booleans(),
)
def test_a_trailing_stop_fills_exactly_when_the_price_retraces_by_the_trail(
    side: Side, path: list[Decimal], trail_cents: int, percent: bool
) -> None:
    exchange = new_exchange()
    updates: list[TradeUpdate] = []
    exchange.set_price("AAPL", D(190))
    trail = D(trail_cents) / 100
    kw = {"trail_percent": str(trail)} if percent else {"trail_price": str(trail)}
    stop = submit(exchange, sent(side=side.value, type="trailing_stop", **kw))
    updates.extend(exchange.drain_updates())
    filled_at = None
    for i, price in enumerate(path):
        exchange.set_price("AAPL", price)
        updates.extend(exchange.drain_updates())
        if filled_at is None and fills_of(updates, stop.broker_order_id):
            filled_at = i
    expected = first_trigger(side, [D(190), *path], trail, percent=percent)  # the mark starts at 190
    assert filled_at == (None if expected is None else expected - 1)
    if filled_at is not None:
        assert fills_of(updates, stop.broker_order_id)[0].price == path[filled_at]


class TestTrailingStop:
    def test_the_mark_and_the_stop_follow_the_price_and_it_fills_on_the_way_back(self) -> None:
        exchange = new_exchange()
        submit(exchange, sent(side="buy", type="market", time_in_force="day"))
        stop = submit(exchange, sent(side="sell", type="trailing_stop", trail_price="5"))
        assert (stop.hwm, stop.stop_price, stop.trail_price) == (D(190), D(185), D(5))
        for price in ("195", "200", "196"):
            exchange.set_price("AAPL", D(price))
        working = run(exchange.get_order(stop.broker_order_id))
        assert (working.status, working.hwm, working.stop_price) == (OrderStatus.NEW, D(200), D(195))

        exchange.set_price("AAPL", D(195))

        filled = run(exchange.get_order(stop.broker_order_id))
        assert (filled.status, filled.filled_average_price) == (OrderStatus.FILLED, D(195))
        assert run(exchange.list_positions()) == []

    def test_a_buy_trails_the_low_by_a_percent(self) -> None:
        exchange = new_exchange()
        stop = submit(exchange, sent(side="buy", type="trailing_stop", trail_percent="10"))
        exchange.set_price("AAPL", D(150))
        assert run(exchange.get_order(stop.broker_order_id)).stop_price == D(165)
        exchange.set_price("AAPL", D("164.99"))
        assert run(exchange.get_order(stop.broker_order_id)).status is OrderStatus.NEW
        exchange.set_price("AAPL", D(165))
        assert run(exchange.get_order(stop.broker_order_id)).status is OrderStatus.FILLED

    def test_its_trail_can_be_replaced_from_the_mark_as_it_stands(self) -> None:
        exchange = new_exchange()
        stop = submit(exchange, sent(side="sell", type="trailing_stop", trail_price="5"))
        exchange.set_price("AAPL", D(200))
        new = run(exchange.replace_order(stop.broker_order_id, client_order_id=ClientOrderId("r-1"), trail=D(2)))
        assert (new.trail_price, new.hwm, new.stop_price) == (D(2), D(200), D(198))
        exchange.set_price("AAPL", D(198))
        assert run(exchange.get_order(new.broker_order_id)).status is OrderStatus.FILLED

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"trail_price": None}, "trail_price"),
            ({"trail_percent": D(1)}, "trail_price"),
        ],
    )
    def test_exactly_one_trail(self, changes: dict[str, Any], field: str) -> None:
        bad = attrs.evolve(sent(side="sell", type="trailing_stop", trail_price="5"), **changes)
        with pytest.raises(BrokerRejected) as e:
            submit(new_exchange(), bad)
        assert (e.value.code, e.value.details["field"]) == (codes.INVALID_ORDER, field)

    def test_a_trail_on_another_order_is_refused(self) -> None:
        bad = attrs.evolve(sent(side="sell", type="stop", stop_price="180"), trail_price=D(1))
        with pytest.raises(BrokerRejected) as e:
            submit(new_exchange(), bad)
        assert e.value.details["field"] == "trail_price"

    def test_a_replace_of_another_order_takes_no_trail(self) -> None:
        exchange = new_exchange()
        resting = submit(exchange, sent(side="buy", type="limit", limit_price="150"))
        with pytest.raises(BrokerRejected):
            run(exchange.replace_order(resting.broker_order_id, client_order_id=ClientOrderId("r-2"), trail=D(1)))
        assert run(exchange.get_order(resting.broker_order_id)).status is OrderStatus.NEW
        assert [u.event for u in exchange.drain_updates()] == [TradeEvent.NEW]


def test_order_types_named() -> None:
    assert OrderType.TRAILING_STOP.value == "trailing_stop"


class TestAnEntryFilledInParts:
    """Alpaca's order guide: a bracket's exits "won't be active until the first order is completely
    filled", and "if any one of the orders is canceled, any remaining open order in the group is
    canceled". An entry that ends in part filled ends its legs, which never worked."""

    def entry(self, exchange: PaperExchange, time_in_force: str = "gtc") -> BrokerOrder:
        exchange.set_price("AAPL", D(190))
        exits = {"take_profit": {"limit_price": "200"}, "stop_loss": {"stop_price": "180"}}
        sent_order = sent(side="buy", type="limit", limit_price="189.50", order_class="bracket", **exits)
        parent = submit(exchange, attrs.evolve(sent_order, time_in_force=TimeInForce(time_in_force)))
        exchange.set_price("AAPL", D(189))  # 4 of its 10 execute
        assert run(exchange.get_order(parent.broker_order_id)).filled_quantity == 4
        return parent

    def test_its_legs_stay_held_until_it_fills_completely(self) -> None:
        exchange = new_exchange(max_fill_quantity=D(4))
        parent = self.entry(exchange)
        held = [run(exchange.get_order(leg.broker_order_id)).status for leg in parent.legs]

        exchange.set_price("AAPL", D("189.01"))
        exchange.set_price("AAPL", D(189))

        assert held == [OrderStatus.HELD, OrderStatus.HELD]
        assert run(exchange.get_order(parent.broker_order_id)).status is OrderStatus.FILLED
        assert [run(exchange.get_order(leg.broker_order_id)).status for leg in parent.legs] == [
            OrderStatus.NEW,  # the take-profit is routed
            OrderStatus.HELD,  # the stop-loss is watched, as at Alpaca
        ]

    def test_a_day_brackets_entry_expired_in_part_ends_its_day_legs_once_at_the_close(self) -> None:
        """Its legs are day orders too: ended with their entry, the close does not expire them again."""
        exchange = new_exchange(max_fill_quantity=D(4))
        exchange.set_price("AAPL", D(190))
        exits = {"take_profit": {"limit_price": "200"}, "stop_loss": {"stop_price": "180"}}
        order = sent(side="buy", type="limit", limit_price="189.50", order_class="bracket", **exits)
        parent = submit(exchange, attrs.evolve(order, time_in_force=TimeInForce.DAY))
        exchange.set_price("AAPL", D(189))  # 4 of its 10 execute
        assert {run(exchange.get_order(leg.broker_order_id)).time_in_force for leg in parent.legs} == {TimeInForce.DAY}

        exchange.close_market()

        entry = run(exchange.get_order(parent.broker_order_id))
        assert (entry.status, entry.filled_quantity) == (OrderStatus.EXPIRED, 4)
        legs = [run(exchange.get_order(leg.broker_order_id)) for leg in parent.legs]
        assert all(leg.status.is_terminal and not leg.filled_quantity for leg in legs)
        ends = [u for u in exchange.drain_updates() if u.order.broker_order_id in {leg.broker_order_id for leg in legs}]
        assert len([u for u in ends if u.event in (TradeEvent.CANCELED, TradeEvent.EXPIRED)]) == 2

    @pytest.mark.parametrize("end", ["cancel", "expire"])
    def test_ended_in_part_its_legs_end_without_ever_working(self, end: str) -> None:
        exchange = new_exchange(max_fill_quantity=D(4))
        parent = self.entry(exchange, time_in_force="day" if end == "expire" else "gtc")
        exchange.drain_updates()

        if end == "cancel":
            run(exchange.cancel_order(parent.broker_order_id))
        else:
            exchange.close_market()
        updates = exchange.drain_updates()

        legs = [run(exchange.get_order(leg.broker_order_id)) for leg in parent.legs]
        # Cancelled with their entry, or expired at the close as day orders with it.
        assert {leg.status for leg in legs} <= {OrderStatus.CANCELED, OrderStatus.EXPIRED}
        assert [leg.filled_quantity for leg in legs] == [0, 0]
        leg_ids = {leg.broker_order_id for leg in legs}
        assert not [u for u in updates if u.order.broker_order_id in leg_ids and u.event is TradeEvent.NEW]
        assert run(exchange.list_positions())[0].quantity == 4  # what filled stays held, unprotected


class TestAnOcosStopLossHeldWhileItWorks:
    """An OCO's stop-loss shows `held` from the start and fills straight out of it (Alpaca reports an
    OCO's passive leg `held`, never `new`: QuantConnect/Lean.Brokerages.Alpaca#74)."""

    EXITS: ClassVar[dict[str, Any]] = {"take_profit": {"limit_price": "200"}, "stop_loss": {"stop_price": "180"}}

    def oco(self, exchange: PaperExchange, *, pending: bool = False) -> BrokerOrder:
        exchange.set_price("AAPL", D(190))
        submit(exchange, sent(side="buy", type="market"))
        exchange.drain_updates()
        order = sent(side="sell", type="limit", order_class="oco", **self.EXITS)
        return exchange.submit_pending(order) if pending else submit(exchange, order)

    def test_sent_while_closed_it_is_held_and_watched_from_the_open(self) -> None:
        exchange = new_exchange()
        exchange.set_price("AAPL", D(190))
        submit(exchange, sent(side="buy", type="market"))
        exchange.close_market()
        parent = submit(exchange, sent(side="sell", type="limit", order_class="oco", **self.EXITS))
        (stop_loss,) = parent.legs
        exchange.set_price("AAPL", D(179))  # closed: nothing trades
        assert (parent.status, stop_loss.status) == (OrderStatus.ACCEPTED, OrderStatus.HELD)
        assert run(exchange.get_order(stop_loss.broker_order_id)).status is OrderStatus.HELD
        exchange.drain_updates()

        exchange.open_market()

        updates = exchange.drain_updates()
        assert [u.event for u in updates if u.order.broker_order_id == stop_loss.broker_order_id] == [TradeEvent.FILL]
        assert [u.event for u in updates if u.order.broker_order_id == parent.broker_order_id] == [
            TradeEvent.NEW,
            TradeEvent.CANCELED,
        ]
        assert run(exchange.list_positions()) == []

    def test_acknowledged_after_pending_new_its_stop_loss_is_held_and_works(self) -> None:
        exchange = new_exchange()
        parent = self.oco(exchange, pending=True)
        (stop_loss,) = parent.legs
        exchange.acknowledge(parent.broker_order_id)
        assert run(exchange.get_order(stop_loss.broker_order_id)).status is OrderStatus.HELD

        exchange.set_price("AAPL", D("179.50"))

        assert run(exchange.get_order(stop_loss.broker_order_id)).status is OrderStatus.FILLED
        assert run(exchange.get_order(parent.broker_order_id)).status is OrderStatus.CANCELED
        assert run(exchange.list_positions()) == []

    def test_cancelling_the_held_stop_loss_cancels_its_take_profit(self) -> None:
        exchange = new_exchange()
        parent = self.oco(exchange)
        (stop_loss,) = parent.legs

        run(exchange.cancel_order(stop_loss.broker_order_id))

        assert run(exchange.get_order(parent.broker_order_id)).status is OrderStatus.CANCELED
        assert run(exchange.get_order(stop_loss.broker_order_id)).status is OrderStatus.CANCELED
        exchange.set_price("AAPL", D(179))
        assert run(exchange.list_positions())[0].quantity == 10  # nothing works any more
