"""Brackets, OTOs and OCOs through the engine on the paper exchange, as Alpaca executes them.

The engine stores an entry with its legs, the exchange's answer gives each leg its broker id, and
from then on the legs are orders like any other: their trade updates move them, one exit's fill
cancels the other, the position ends flat and the P&L exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import started_engine
from trading_core import OrderRequest, OrderStatus, RiskLimits, TestClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderClass, OrderType
from trading_core.errors import InvalidOrder
from trading_core.events import Event, PositionClosed
from trading_core.order_classes import TakeProfit
from trading_core.orders import Order
from trading_core.values import Symbol
from trading_core.views import SubmitResult

D = Decimal


def bracket(**kw: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "symbol": "AAPL",
        "side": "buy",
        "type": "market",
        "quantity": "10",
        "order_class": "bracket",
        "take_profit": {"limit_price": "110"},
        "stop_loss": {"stop_price": "95"},
        "time_in_force": "gtc",
    }
    return OrderRequest.create(**{**fields, **kw})


async def legs_of(engine: TradingEngine, parent: Order) -> list[Order]:
    return [await engine.get_order(leg_id) for leg_id in parent.legs]


async def is_flat(store: InMemoryOrderStore) -> bool:
    """No AAPL position is stored: the store keeps open positions only."""
    return await store.get_position(Symbol("AAPL")) is None


def closed_pnl(events: list[Event]) -> list[Decimal]:
    """The realized P&L of each position closed."""
    return [e.realized_pnl for e in events if isinstance(e, PositionClosed)]


async def move(engine: TradingEngine, exchange: PaperExchange, price: str) -> None:
    exchange.set_price("AAPL", Decimal(price))
    await engine.process_updates()


async def test_a_brackets_stop_fills_when_the_price_falls_and_the_take_profit_is_cancelled(
    engine: TradingEngine, exchange: PaperExchange, store: InMemoryOrderStore, events: list[Event]
) -> None:
    exchange.set_price("AAPL", D(100))
    result = await engine.submit(bracket())
    await engine.process_updates()
    parent = await engine.get_order(result.order.id)
    take_profit, stop_loss = await legs_of(engine, parent)

    assert parent.status is OrderStatus.FILLED
    assert (take_profit.leg_of, stop_loss.leg_of) == (parent.id, parent.id)
    assert engine.protective_orders("AAPL") == [take_profit, stop_loss]
    assert (take_profit.type, take_profit.limit_price) == (OrderType.LIMIT, D(110))
    assert (stop_loss.type, stop_loss.stop_price) == (OrderType.STOP, D(95))
    assert take_profit.broker_order_id is not None
    assert stop_loss.broker_order_id is not None
    # Alpaca routes the take-profit and keeps the stop-loss held while it watches its stop.
    assert (take_profit.status, stop_loss.status) == (OrderStatus.NEW, OrderStatus.HELD)

    await move(engine, exchange, "97")
    assert (await engine.get_order(stop_loss.id)).status is OrderStatus.HELD
    assert engine.protective_orders("AAPL") == [take_profit, stop_loss]
    await move(engine, exchange, "94.50")

    take_profit, stop_loss = await legs_of(engine, parent)
    assert (stop_loss.status, stop_loss.filled_quantity, stop_loss.average_fill_price) == (
        OrderStatus.FILLED,
        D(10),
        D("94.50"),
    )
    assert take_profit.status is OrderStatus.CANCELED
    assert await is_flat(store)
    assert engine.protective_orders("AAPL") == []
    assert closed_pnl(events) == [D(-55)]  # 10 bought at 100.00, sold at 94.50


async def test_closing_a_bracketed_position_cancels_its_held_stop_loss_once(
    engine: TradingEngine, exchange: PaperExchange, store: InMemoryOrderStore, events: list[Event]
) -> None:
    exchange.set_price("AAPL", D(100))
    result = await engine.submit(bracket())
    await engine.process_updates()
    take_profit, stop_loss = await legs_of(engine, await engine.get_order(result.order.id))
    assert (take_profit.status, stop_loss.status) == (OrderStatus.NEW, OrderStatus.HELD)
    exchange.set_price("AAPL", D(101))

    closed = await engine.close_position("AAPL")
    await engine.process_updates()

    take_profit, stop_loss = await legs_of(engine, await engine.get_order(result.order.id))
    assert (take_profit.status, stop_loss.status) == (OrderStatus.CANCELED, OrderStatus.CANCELED)
    assert (await engine.get_order(closed.order.id)).status is OrderStatus.FILLED
    assert await is_flat(store)
    assert engine.protective_orders("AAPL") == []
    assert closed_pnl(events) == [D(10)]  # 10 bought at 100, sold at 101


async def test_a_limit_brackets_legs_are_held_until_the_entry_has_filled_completely(
    clock: TestClock, store: InMemoryOrderStore
) -> None:
    exchange = PaperExchange(clock)
    exchange.set_price("AAPL", D(101))
    limits = RiskLimits(
        max_position_size_percent=D(100), max_sector_exposure_percent=D(100), enable_day_trade_budget=False
    )
    engine = await started_engine(exchange, clock, EngineConfig(limits=limits), store=store)
    result = await engine.submit(bracket(type="limit", limit_price="100"))
    parent = result.order
    assert {leg.status for leg in await legs_of(engine, parent)} == {OrderStatus.HELD}

    exchange.plan_fills(lambda quantity: [D(4)])  # the entry's first execution is 4 of its 10
    await move(engine, exchange, "99.50")
    exchange.plan_fills(None)
    parent = await engine.get_order(parent.id)
    assert parent.status is OrderStatus.FILLED
    take_profit, stop_loss = await legs_of(engine, parent)
    assert (take_profit.status, stop_loss.status) == (OrderStatus.NEW, OrderStatus.HELD)

    exchange.plan_fills(lambda quantity: [D(3)])
    await move(engine, exchange, "110")  # the take-profit sells 3, then the rest
    exchange.plan_fills(None)
    take_profit, stop_loss = await legs_of(engine, parent)
    assert take_profit.status is OrderStatus.FILLED
    assert stop_loss.status is OrderStatus.CANCELED
    assert await is_flat(store)


async def test_an_oco_protects_a_position_held_and_cancelling_its_parent_cancels_its_leg(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", D(100))
    await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity="10"))
    oco = OrderRequest.create(
        symbol="AAPL",
        side="sell",
        type="limit",
        quantity="10",
        order_class="oco",
        take_profit={"limit_price": "110"},
        stop_loss={"stop_price": "95"},
        time_in_force="gtc",
    )
    result = await engine.submit(oco)
    await engine.process_updates()
    parent = await engine.get_order(result.order.id)
    (stop_loss,) = await legs_of(engine, parent)
    assert (parent.order_class, parent.limit_price, parent.status) == (OrderClass.OCO, D(110), OrderStatus.NEW)
    assert (stop_loss.stop_price, stop_loss.status) == (D(95), OrderStatus.HELD)  # watched, as at Alpaca

    await engine.cancel(parent.id)
    await engine.process_updates()

    assert (await engine.get_order(parent.id)).status is OrderStatus.CANCELED
    assert (await engine.get_order(stop_loss.id)).status is OrderStatus.CANCELED


async def test_an_ocos_take_profit_fills_and_its_stop_is_cancelled(
    engine: TradingEngine, exchange: PaperExchange, store: InMemoryOrderStore, events: list[Event]
) -> None:
    exchange.set_price("AAPL", D(100))
    await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity="10"))
    result = await engine.submit(
        OrderRequest.create(
            symbol="AAPL",
            side="sell",
            type="limit",
            quantity="10",
            order_class="oco",
            take_profit={"limit_price": "110"},
            stop_loss={"stop_price": "95"},
        )
    )
    await move(engine, exchange, "111")
    parent = await engine.get_order(result.order.id)
    (stop_loss,) = await legs_of(engine, parent)
    assert parent.status is OrderStatus.FILLED
    assert stop_loss.status is OrderStatus.CANCELED
    assert await is_flat(store)
    assert closed_pnl(events) == [D(110)]  # 10 bought at 100.00, sold at 111.00 (the price that crossed its limit)


async def test_an_oto_sends_its_one_exit_once_the_entry_fills(
    engine: TradingEngine, exchange: PaperExchange, store: InMemoryOrderStore
) -> None:
    exchange.set_price("AAPL", D(100))
    result = await engine.submit(bracket(order_class="oto", take_profit=None))
    await engine.process_updates()
    (stop_loss,) = await legs_of(engine, await engine.get_order(result.order.id))
    assert stop_loss.status is OrderStatus.NEW

    await move(engine, exchange, "94")
    assert (await engine.get_order(stop_loss.id)).status is OrderStatus.FILLED
    assert await is_flat(store)


async def test_a_held_brackets_entry_cancelled_ends_its_legs(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", D(101))
    result = await engine.submit(bracket(type="limit", limit_price="100"))
    await engine.cancel(result.order.id)
    await engine.process_updates()
    assert {leg.status for leg in await legs_of(engine, result.order)} == {OrderStatus.CANCELED}


async def test_a_legs_price_can_be_replaced(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", D(100))
    result = await engine.submit(bracket())
    await engine.process_updates()
    take_profit, stop_loss = await legs_of(engine, await engine.get_order(result.order.id))

    replaced = await engine.replace(stop_loss.id, stop_price=D(98))
    await engine.process_updates()
    new_stop = await engine.get_order(replaced.order.id)
    assert (new_stop.stop_price, new_stop.leg_of, new_stop.replaces) == (D(98), result.order.id, stop_loss.id)
    assert (await engine.get_order(result.order.id)).legs == (take_profit.id, new_stop.id)

    await move(engine, exchange, "97.50")
    assert (await engine.get_order(new_stop.id)).status is OrderStatus.FILLED
    assert (await engine.get_order(take_profit.id)).status is OrderStatus.CANCELED


async def test_a_market_entrys_stop_loss_above_the_price_is_refused_and_nothing_is_stored(
    engine: TradingEngine, exchange: PaperExchange, store: InMemoryOrderStore
) -> None:
    exchange.set_price("AAPL", D(94))
    with pytest.raises(InvalidOrder) as e:
        await engine.submit(bracket())
    assert e.value.field == "stop_loss.stop_price"
    assert await store.last_order_at() is None


async def test_with_a_stop_loss_percent_every_opening_order_goes_protected(
    clock: TestClock, exchange: PaperExchange
) -> None:
    limits = RiskLimits(
        max_position_size_percent=D(100),
        max_sector_exposure_percent=D(100),
        enable_day_trade_budget=False,
        stop_loss_percent=D(5),
    )
    exchange.set_price("AAPL", D(100))
    engine = await started_engine(exchange, clock, EngineConfig(limits=limits))
    opened = await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity="10"))
    await engine.process_updates()
    parent = await engine.get_order(opened.order.id)
    (stop_loss,) = await legs_of(engine, parent)
    assert (parent.order_class, stop_loss.stop_price, stop_loss.status) == (OrderClass.OTO, D(95), OrderStatus.NEW)

    await engine.cancel(stop_loss.id)  # with the stop resting, a sale could take the position short
    closing = await engine.submit(
        OrderRequest.create(symbol="AAPL", side="sell", type="limit", quantity="5", limit_price="120")
    )
    assert closing.order.order_class is OrderClass.SIMPLE  # it reduces: nothing attached


async def long_10_with_a_5_percent_trailing_stop(engine: TradingEngine, exchange: PaperExchange) -> SubmitResult:
    """10 AAPL bought at 100, and a GTC trailing stop selling them 5% under the mark."""
    exchange.set_price("AAPL", D(100))
    await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity="10"))
    trailing = OrderRequest.create(
        symbol="AAPL", side="sell", type="trailing_stop", quantity="10", trail_percent="5", time_in_force="gtc"
    )
    return await engine.submit(trailing)


async def test_a_trailing_stop_keeps_its_mark_and_its_trail_can_be_replaced(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    result = await long_10_with_a_5_percent_trailing_stop(engine, exchange)
    assert (await engine.get_order(result.order.id)).hwm == D(100)
    await move(engine, exchange, "110")

    replaced = await engine.replace(result.order.id, trail=D(2))
    new = await engine.get_order(replaced.order.id)
    assert (new.trail_percent, new.hwm, new.status) == (D(2), D(110), OrderStatus.NEW)
    await move(engine, exchange, "107.81")
    assert (await engine.get_order(new.id)).status is OrderStatus.NEW
    await move(engine, exchange, "107.80")  # 2% under the mark of 110
    assert (await engine.get_order(new.id)).status is OrderStatus.FILLED


@pytest.mark.parametrize("trail", [D(100), D(150)])
async def test_a_trail_percent_of_100_or_more_is_refused_on_replace_and_nothing_changes(
    engine: TradingEngine, exchange: PaperExchange, trail: Decimal
) -> None:
    result = await long_10_with_a_5_percent_trailing_stop(engine, exchange)

    with pytest.raises(InvalidOrder) as e:
        await engine.replace(result.order.id, trail=trail)

    assert (e.value.code, e.value.field) == ("INVALID_MODIFICATION", "trail_percent")
    kept = await engine.get_order(result.order.id)
    assert (kept.trail_percent, kept.status, kept.replaced_by) == (D(5), OrderStatus.NEW, None)


async def test_a_trail_for_another_order_is_refused(engine: TradingEngine, exchange: PaperExchange) -> None:
    exchange.set_price("AAPL", D(100))
    result = await engine.submit(
        OrderRequest.create(symbol="AAPL", side="buy", type="limit", quantity="10", limit_price="90")
    )
    with pytest.raises(InvalidOrder) as e:
        await engine.replace(result.order.id, trail=D(2))
    assert e.value.field == "trail"
    assert str(e.value) == "INVALID_MODIFICATION: limit orders take no trail"  # its code said once


async def test_a_malformed_price_in_a_change_is_refused_with_its_code_said_once(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", D(100))
    result = await engine.submit(
        OrderRequest.create(symbol="AAPL", side="buy", type="limit", quantity="10", limit_price="90")
    )
    with pytest.raises(InvalidOrder) as e:
        await engine.replace(result.order.id, limit_price=89.5)  # type: ignore[arg-type]  # a float
    assert (e.value.code, e.value.field) == ("INVALID_MODIFICATION", "limit_price")
    assert e.value.message == "limit_price must be a Decimal, an int or a numeric string, was float"


async def test_an_ocos_take_profit_price_is_replaced_with_its_leg_kept(
    engine: TradingEngine, exchange: PaperExchange
) -> None:
    exchange.set_price("AAPL", D(100))
    await engine.submit(OrderRequest.create(symbol="AAPL", side="buy", type="market", quantity="10"))
    oco = OrderRequest.create(
        symbol="AAPL",
        side="sell",
        type="limit",
        quantity="10",
        order_class="oco",
        take_profit={"limit_price": "110"},
        stop_loss={"stop_price": "95"},
        time_in_force="gtc",
    )
    result = await engine.submit(oco)
    (stop_loss,) = result.order.legs

    replaced = await engine.replace(result.order.id, limit_price=D(105))
    await engine.process_updates()
    new = await engine.get_order(replaced.order.id)
    assert (new.limit_price, new.take_profit, new.legs) == (D(105), TakeProfit(D(105)), (stop_loss,))
    assert (await engine.get_order(stop_loss)).leg_of == new.id

    await move(engine, exchange, "105")
    assert (await engine.get_order(new.id)).status is OrderStatus.FILLED
    assert (await engine.get_order(stop_loss)).status is OrderStatus.CANCELED
