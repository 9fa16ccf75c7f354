"""The Broker port's contract for order classes (brackets, OTOs, OCOs) and trailing stops.

The same cases run on the paper exchange and through the Alpaca adapter against the simulator
(`trading-engine alpaca-sim`, over real sockets), as `test_broker_contract.py` does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from tests.contract.alpaca.support import collect_updates, order
from tests.contract.conftest import Venue
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderClass, OrderStatus, OrderType
from trading_core.errors import BrokerRejected
from trading_core.order_classes import LegRole, TakeProfit, leg_client_order_id
from trading_core.orders import Order, TradeEvent
from trading_core.requests import OrderRequest
from trading_core.values import BrokerOrderId, ClientOrderId, new_order_id


def class_order(**kw: Any) -> Order:
    """A class order as the engine sends it (AAPL is at 190 on both venues)."""
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "type": "market",
        "quantity": "10",
        "time_in_force": "gtc",
        "order_class": "bracket",
        "take_profit": {"limit_price": "200"},
        "stop_loss": {"stop_price": "180"},
        "client_order_id": f"c-{new_order_id()}",
    }
    request = OrderRequest.create(**{**fields, **kw})
    assert request.client_order_id is not None
    return Order.from_request(
        request, order_id=new_order_id(), client_order_id=request.client_order_id, now=datetime.now(UTC)
    )


def _event(event: TradeEvent, broker_order_id: BrokerOrderId) -> Callable[[list[TradeUpdate]], bool]:
    return lambda updates: any(u.event is event and u.order.broker_order_id == broker_order_id for u in updates)


def _of(updates: list[TradeUpdate], broker_order_id: BrokerOrderId) -> list[TradeEvent | str]:
    return [u.event for u in updates if u.order.broker_order_id == broker_order_id]


def _legs(accepted: BrokerOrder) -> tuple[BrokerOrder, BrokerOrder]:
    take_profit, stop_loss = accepted.legs
    return take_profit, stop_loss


class TestBracket:
    async def test_the_answer_shows_the_legs_held_under_derived_client_order_ids(self, venue: Venue) -> None:
        sent = class_order(type="limit", limit_price="185")
        accepted = await venue.broker.submit_order(sent)

        take_profit, stop_loss = _legs(accepted)
        assert accepted.order_class is OrderClass.BRACKET
        assert (take_profit.type, take_profit.limit_price, take_profit.side) == (OrderType.LIMIT, Decimal(200), "sell")
        assert (stop_loss.type, stop_loss.stop_price) == (OrderType.STOP, Decimal(180))
        assert {take_profit.status, stop_loss.status} == {OrderStatus.HELD}
        assert take_profit.client_order_id == leg_client_order_id(sent.client_order_id, LegRole.TAKE_PROFIT)
        assert stop_loss.client_order_id == leg_client_order_id(sent.client_order_id, LegRole.STOP_LOSS)
        found = await venue.broker.get_order_by_client_id(stop_loss.client_order_id)
        assert found is not None
        assert found.broker_order_id == stop_loss.broker_order_id

    async def test_the_entry_fills_the_take_profit_works_the_stop_fills_out_of_held_and_the_take_profit_is_cancelled(
        self, venue: Venue
    ) -> None:
        """Alpaca routes the take-profit (`new`) once the entry has filled and keeps the stop-loss
        `held` while it watches its stop; the stop then fills straight out of `held` (its forum,
        forum.alpaca.markets/t/bracket-order-exit-trades-not-executing/3697; alpaca-py#198)."""
        accepted = await venue.broker.submit_order(class_order())
        take_profit, stop_loss = _legs(accepted)
        updates = await collect_updates(venue.broker, _event(TradeEvent.NEW, take_profit.broker_order_id))
        assert _of(updates, accepted.broker_order_id) == [TradeEvent.NEW, TradeEvent.FILL]
        assert (await venue.broker.get_order(take_profit.broker_order_id)).status is OrderStatus.NEW
        assert (await venue.broker.get_order(stop_loss.broker_order_id)).status is OrderStatus.HELD
        venue.set_price("AAPL", "180.50")  # not yet at its stop: still held, nothing sent for it
        assert (await venue.broker.get_order(stop_loss.broker_order_id)).status is OrderStatus.HELD

        venue.set_price("AAPL", "179.50")
        updates += await collect_updates(venue.broker, _event(TradeEvent.CANCELED, take_profit.broker_order_id))

        assert _of(updates, stop_loss.broker_order_id) == [TradeEvent.FILL]
        fill = next(u for u in updates if u.order.broker_order_id == stop_loss.broker_order_id)
        assert (fill.quantity, fill.price, fill.position_quantity) == (Decimal(10), Decimal("179.50"), Decimal(0))
        assert (await venue.broker.get_order(take_profit.broker_order_id)).status is OrderStatus.CANCELED

    async def test_cancelling_the_entry_cancels_its_held_legs(self, venue: Venue) -> None:
        accepted = await venue.broker.submit_order(class_order(type="limit", limit_price="185"))
        take_profit, stop_loss = _legs(accepted)

        await venue.broker.cancel_order(accepted.broker_order_id)
        await collect_updates(venue.broker, _event(TradeEvent.CANCELED, stop_loss.broker_order_id))

        for leg in (take_profit, stop_loss):
            assert (await venue.broker.get_order(leg.broker_order_id)).status is OrderStatus.CANCELED

    async def test_a_held_leg_takes_a_new_price_and_stays_held_until_its_stop_fills(self, venue: Venue) -> None:
        """Alpaca replaces a bracket leg's price (its order guide) and refuses a replace only in
        accepted, pending_new, pending_cancel or pending_replace (its API reference): a held leg,
        as a bracket's stop-loss stays while its take-profit works, is replaced and stays held."""
        accepted = await venue.broker.submit_order(class_order(type="limit", limit_price="185"))
        take_profit, stop_loss = _legs(accepted)

        replacement = await venue.broker.replace_order(
            stop_loss.broker_order_id, client_order_id=ClientOrderId(f"r-{new_order_id()}"), stop_price=Decimal(182)
        )
        await collect_updates(venue.broker, _event(TradeEvent.REPLACED, stop_loss.broker_order_id))

        assert (replacement.status, replacement.replaces, replacement.stop_price) == (
            OrderStatus.HELD,
            stop_loss.broker_order_id,
            Decimal(182),
        )
        assert (replacement.type, replacement.side, replacement.quantity) == (OrderType.STOP, "sell", Decimal(10))
        assert (await venue.broker.get_order(stop_loss.broker_order_id)).status is OrderStatus.REPLACED
        assert (await venue.broker.get_order(replacement.broker_order_id)).status is OrderStatus.HELD
        venue.set_price("AAPL", "185")  # the entry fills: its take-profit works, the replacement is watched
        await collect_updates(venue.broker, _event(TradeEvent.NEW, take_profit.broker_order_id))
        venue.set_price("AAPL", "182.50")
        assert (await venue.broker.get_order(replacement.broker_order_id)).status is OrderStatus.HELD
        watched = await venue.broker.replace_order(  # held and working: replaced again, still held
            replacement.broker_order_id,
            client_order_id=ClientOrderId(f"r-{new_order_id()}"),
            stop_price=Decimal("181.95"),
        )
        assert watched.status is OrderStatus.HELD
        venue.set_price("AAPL", "181.90")
        updates = await collect_updates(venue.broker, _event(TradeEvent.CANCELED, take_profit.broker_order_id))
        assert _of(updates, watched.broker_order_id) == [TradeEvent.FILL]

    @pytest.mark.parametrize(
        ("kw", "field", "said"),
        [
            ({"type": "stop", "stop_price": "195"}, "type", "bracket orders must be limit or market orders"),
            ({"take_profit": {"limit_price": "179"}}, "take_profit.limit_price", "take_profit.limit_price must be"),
        ],
    )
    async def test_alpacas_refusals_leave_nothing(
        self, venue: Venue, kw: dict[str, Any], field: str, said: str
    ) -> None:
        sent = class_order()
        bad = attrs.evolve(sent, **_order_fields(kw))
        with pytest.raises(BrokerRejected) as e:
            await venue.broker.submit_order(bad)
        assert e.value.code == "INVALID_ORDER"
        assert said in e.value.message
        # The paper exchange names the field; Alpaca's wire has no member for it (its message says it).
        assert e.value.details.get("field") in (field, None)
        assert await venue.broker.get_order_by_client_id(ClientOrderId(sent.client_order_id)) is None


def _order_fields(kw: dict[str, Any]) -> dict[str, Any]:
    """Order fields as a broker would be sent them, bypassing the request's own checks."""
    fields: dict[str, Any] = {}
    if "type" in kw:
        fields["type"] = OrderType(kw["type"])
    if "stop_price" in kw:
        fields["stop_price"] = Decimal(kw["stop_price"])
    if "take_profit" in kw:
        fields["take_profit"] = TakeProfit(Decimal(kw["take_profit"]["limit_price"]))
    return fields


class TestOcoAndOto:
    async def test_an_oco_on_a_position_held_takes_profit_and_cancels_its_stop(self, venue: Venue) -> None:
        bought = await venue.broker.submit_order(order("AAPL", "buy", "10"))
        await collect_updates(venue.broker, _event(TradeEvent.FILL, bought.broker_order_id))
        accepted = await venue.broker.submit_order(class_order(side="sell", type="limit", order_class="oco"))
        (stop_loss,) = accepted.legs
        assert (accepted.limit_price, stop_loss.stop_price, stop_loss.status) == (
            Decimal(200),
            Decimal(180),
            OrderStatus.HELD,  # an OCO's passive leg is held, never new (Lean.Brokerages.Alpaca#74)
        )

        venue.set_price("AAPL", "200.50")
        updates = await collect_updates(venue.broker, _event(TradeEvent.CANCELED, stop_loss.broker_order_id))

        assert _of(updates, accepted.broker_order_id) == [TradeEvent.NEW, TradeEvent.FILL]
        assert _of(updates, stop_loss.broker_order_id) == [TradeEvent.HELD, TradeEvent.CANCELED]
        assert (await venue.broker.list_positions()) == []

    async def test_an_ocos_held_stop_fills_out_of_held_and_cancels_its_take_profit(self, venue: Venue) -> None:
        bought = await venue.broker.submit_order(order("AAPL", "buy", "10"))
        await collect_updates(venue.broker, _event(TradeEvent.FILL, bought.broker_order_id))
        accepted = await venue.broker.submit_order(class_order(side="sell", type="limit", order_class="oco"))
        (stop_loss,) = accepted.legs

        venue.set_price("AAPL", "179.50")
        updates = await collect_updates(venue.broker, _event(TradeEvent.CANCELED, accepted.broker_order_id))

        assert _of(updates, stop_loss.broker_order_id) == [TradeEvent.HELD, TradeEvent.FILL]
        fill = next(u for u in updates if u.order.broker_order_id == stop_loss.broker_order_id and u.quantity)
        assert (fill.quantity, fill.price, fill.position_quantity) == (Decimal(10), Decimal("179.50"), Decimal(0))
        assert (await venue.broker.list_positions()) == []

    async def test_an_oto_sends_its_one_exit_new_when_the_entry_fills(self, venue: Venue) -> None:
        """An OTO's one stop has no take-profit beside it holding the shares: it is routed `new`."""
        accepted = await venue.broker.submit_order(class_order(order_class="oto", take_profit=None))
        (stop_loss,) = accepted.legs
        await collect_updates(venue.broker, _event(TradeEvent.NEW, stop_loss.broker_order_id))

        venue.set_price("AAPL", "179")
        updates = await collect_updates(venue.broker, _event(TradeEvent.FILL, stop_loss.broker_order_id))
        assert updates[-1].position_quantity == 0


def trailing_stop(**trail: str) -> Order:
    """A sell trailing stop for the 10 AAPL a market buy holds (AAPL at 190)."""
    return class_order(
        side="sell", type="trailing_stop", order_class="simple", take_profit=None, stop_loss=None, **trail
    )


class TestTrailingStop:
    @pytest.mark.parametrize(
        ("trail", "new_trail", "stop_at_200"),
        [({"trail_price": "5"}, "2", "198"), ({"trail_percent": "2"}, "1", "198")],
    )
    async def test_reads_show_the_mark_and_a_replaced_trail_keeps_it(
        self, venue: Venue, trail: dict[str, str], new_trail: str, stop_at_200: str
    ) -> None:
        bought = await venue.broker.submit_order(order("AAPL", "buy", "10"))
        await collect_updates(venue.broker, _event(TradeEvent.FILL, bought.broker_order_id))
        accepted = await venue.broker.submit_order(trailing_stop(**trail))
        venue.set_price("AAPL", "200")

        moved = await venue.broker.get_order(accepted.broker_order_id)
        replacement = await venue.broker.replace_order(
            accepted.broker_order_id, client_order_id=ClientOrderId(f"r-{new_order_id()}"), trail=Decimal(new_trail)
        )
        listed = {o.broker_order_id: o for o in await venue.broker.list_orders()}

        assert (accepted.hwm, moved.hwm) == (Decimal(190), Decimal(200))  # the mark followed the price up
        assert moved.stop_price == Decimal(200) - (Decimal(5) if "trail_price" in trail else Decimal(4))
        assert (replacement.replaces, replacement.hwm, replacement.stop_price) == (
            accepted.broker_order_id,
            Decimal(200),
            Decimal(stop_at_200),
        )
        assert (replacement.trail_price or replacement.trail_percent) == Decimal(new_trail)
        assert listed[replacement.broker_order_id].hwm == Decimal(200)

        venue.set_price("AAPL", stop_at_200)
        updates = await collect_updates(venue.broker, _event(TradeEvent.FILL, replacement.broker_order_id))
        assert updates[-1].position_quantity == 0

    async def test_a_trail_for_another_type_is_refused(self, venue: Venue) -> None:
        bought = await venue.broker.submit_order(order("AAPL", "buy", "10"))
        await collect_updates(venue.broker, _event(TradeEvent.FILL, bought.broker_order_id))
        resting = await venue.broker.submit_order(order("AAPL", "sell", "10", type="limit", limit_price="200"))

        with pytest.raises(BrokerRejected) as e:
            await venue.broker.replace_order(
                resting.broker_order_id, client_order_id=ClientOrderId(f"r-{new_order_id()}"), trail=Decimal(1)
            )

        assert e.value.code == "INVALID_ORDER"
        assert (await venue.broker.get_order(resting.broker_order_id)).status is OrderStatus.NEW


class TestReplacingAnEntry:
    async def test_a_brackets_entry_is_not_replaced_as_alpaca_documents(self, venue: Venue) -> None:
        accepted = await venue.broker.submit_order(class_order(type="limit", limit_price="185"))

        with pytest.raises(BrokerRejected) as e:
            await venue.broker.replace_order(
                accepted.broker_order_id, client_order_id=ClientOrderId(f"r-{new_order_id()}"), limit_price=Decimal(186)
            )

        assert "bracket orders cannot be replaced" in e.value.message
        assert (await venue.broker.get_order(accepted.broker_order_id)).status is OrderStatus.NEW
