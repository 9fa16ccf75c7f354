"""Protective orders with the engine over the Alpaca adapter, against the simulator on real sockets.

The broker contract (`tests/contract/test_broker_order_classes.py`) holds the adapter to the
paper exchange's behaviour; here the engine tracks what the adapter reports: a bracket's legs,
the stop's fill and the take-profit's cancellation, the position and its P&L, a trailing stop's mark.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import attrs

from adapters.paper import PaperConfig
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import GENEROUS, eventually, opened_broker, running_engine
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderClass, OrderStatus, OrderType, Side
from trading_core.order_classes import StopLoss, TakeProfit
from trading_core.orders import Order
from trading_core.requests import OrderRequest
from trading_core.values import OrderId

BRACKET = OrderRequest.create(
    symbol="AAPL",
    side=Side.BUY,
    type=OrderType.MARKET,
    quantity=Decimal(10),
    order_class=OrderClass.BRACKET,
    take_profit=TakeProfit(Decimal(200)),
    stop_loss=StopLoss(Decimal(180)),
)
"""A market buy of 10 AAPL (at 190 here) with a take-profit at 200 and a stop-loss at 180."""


async def test_a_brackets_stop_fills_as_the_price_falls_its_take_profit_is_cancelled_and_the_pnl_is_exact(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    alpaca_sim.set_price("AAPL", "190")
    result = await engine.submit(BRACKET)
    parent_id = result.order.id
    await eventually(lambda: _is(engine, parent_id, OrderStatus.FILLED), what="the entry filled")
    take_profit_id, stop_id = (await engine.get_order(parent_id)).legs
    await eventually(lambda: _is(engine, take_profit_id, OrderStatus.NEW), what="the take-profit released")
    entry = await engine.get_order(parent_id)
    # The stop-loss stays held while Alpaca watches its stop (forum.alpaca.markets/t/.../3697), and protects.
    assert (await engine.get_order(stop_id)).status is OrderStatus.HELD
    await engine.reconcile_orders()  # a read of the broker shows it held too
    assert (await engine.get_order(stop_id)).status is OrderStatus.HELD
    assert [o.id for o in engine.protective_orders("AAPL")] == [take_profit_id, stop_id]

    alpaca_sim.set_price("AAPL", "179.37")
    await eventually(lambda: _is(engine, take_profit_id, OrderStatus.CANCELED), what="the take-profit cancelled")
    await eventually(lambda: _is(engine, stop_id, OrderStatus.FILLED), what="the stop filled")

    stop = await engine.get_order(stop_id)
    assert (entry.average_fill_price, entry.filled_quantity) == (Decimal(190), Decimal(10))
    assert (stop.leg_of, stop.type, stop.side, stop.filled_quantity) == (parent_id, OrderType.STOP, Side.SELL, 10)
    assert stop.average_fill_price == Decimal("179.37")
    assert await engine.find_position("AAPL") is None
    assert (await engine.realized_pnl()).total == Decimal("-106.30")  # (179.37 - 190) x 10, to the cent


async def test_the_order_poll_shows_a_trailing_stops_mark_as_alpaca_reports_it(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    alpaca_sim.set_price("AAPL", "190")
    bought = await engine.submit(
        OrderRequest.create(symbol="AAPL", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal(10))
    )
    await eventually(lambda: _is(engine, bought.order.id, OrderStatus.FILLED), what="the buy filled")
    result = await engine.submit(
        OrderRequest.create(
            symbol="AAPL",
            side=Side.SELL,
            type=OrderType.TRAILING_STOP,
            quantity=Decimal(10),
            trail_percent=Decimal(2),
        )
    )
    await eventually(lambda: _is(engine, result.order.id, OrderStatus.NEW), what="the trailing stop taken")
    taken = await engine.get_order(result.order.id)

    alpaca_sim.set_price("AAPL", "200")
    await engine.reconcile_orders()

    assert taken.hwm == Decimal(190)
    assert (await engine.get_order(result.order.id)).hwm == Decimal(200)


async def test_a_held_stop_loss_takes_a_new_price_over_the_adapter_and_works_once_the_entry_fills(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    """A bracket's stop-loss moved while its limit entry rests: Alpaca replaces a held leg (its API
    reference lists the statuses a replace is refused in, and held is not one); the replacement
    stays held in the group, then works and protects what the entry bought."""
    alpaca_sim.set_price("AAPL", "190")
    result = await engine.submit(
        OrderRequest.create(
            symbol="AAPL",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal(10),
            limit_price=Decimal(185),
            order_class=OrderClass.BRACKET,
            take_profit=TakeProfit(Decimal(200)),
            stop_loss=StopLoss(Decimal(180)),
        )
    )
    parent_id = result.order.id
    take_profit_id, stop_id = (await engine.get_order(parent_id)).legs
    await eventually(lambda: _is(engine, stop_id, OrderStatus.HELD), what="the legs held")

    replaced = await engine.replace(stop_id, stop_price=Decimal(182))
    new_stop = replaced.order
    await eventually(lambda: _is(engine, stop_id, OrderStatus.REPLACED), what="the old stop replaced")

    assert (new_stop.status, new_stop.replaces, new_stop.leg_of, new_stop.stop_price) == (
        OrderStatus.HELD,
        stop_id,
        parent_id,
        Decimal(182),
    )
    assert (await engine.get_order(parent_id)).legs == (take_profit_id, new_stop.id)
    alpaca_sim.set_price("AAPL", "185")
    await eventually(lambda: _is(engine, take_profit_id, OrderStatus.NEW), what="the take-profit released")
    assert (await engine.get_order(new_stop.id)).status is OrderStatus.HELD  # watched, still held
    alpaca_sim.set_price("AAPL", "181.90")
    await eventually(lambda: _is(engine, new_stop.id, OrderStatus.FILLED), what="the new stop filled")
    await eventually(lambda: _is(engine, take_profit_id, OrderStatus.CANCELED), what="the take-profit cancelled")
    assert await engine.find_position("AAPL") is None
    assert (await engine.realized_pnl()).total == Decimal("-31.00")  # (181.90 - 185) x 10


async def _is(engine: TradingEngine, order_id: OrderId, status: OrderStatus) -> bool:
    return (await engine.get_order(order_id)).status is status


async def test_an_entry_with_the_engines_exits_cancelled_in_part_is_protected_by_an_oco_over_the_adapter(
    alpaca_sim_factory: Callable[..., SimServer],
) -> None:
    """`risk.stopLossPercent` 5, `risk.takeProfitPercent` 10: a limit buy of 10 at 189 goes as a bracket
    at 179.55 / 207.90; 4 fill, it is cancelled, and the engine's OCO for the 4 stops them out."""
    sim = alpaca_sim_factory(paper=PaperConfig(max_fill_quantity=Decimal(4)))
    sim.set_price("AAPL", "190")
    limits = attrs.evolve(GENEROUS, stop_loss_percent=Decimal(5), take_profit_percent=Decimal(10))
    async with opened_broker(sim) as broker, running_engine(broker, broker, EngineConfig(limits=limits)) as engine:
        entry = (
            await engine.submit(
                OrderRequest.create(
                    symbol="AAPL", side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal(10), limit_price=Decimal(189)
                )
            )
        ).order
        assert entry.order_class is OrderClass.BRACKET
        sim.set_price("AAPL", "188.50")
        await eventually(lambda: _filled(engine, entry.id, Decimal(4)), what="4 of the entry filled")
        await engine.cancel(entry.id)
        await eventually(lambda: _oco_working(engine.protective_orders("AAPL")), what="the OCO and its stop working")
        oco, stop = sorted(engine.protective_orders("AAPL"), key=lambda o: o.order_class is OrderClass.SIMPLE)

        sim.set_price("AAPL", "179")
        await eventually(lambda: _is(engine, stop.id, OrderStatus.FILLED), what="the stop filled")
        await eventually(lambda: _is(engine, oco.id, OrderStatus.CANCELED), what="the take-profit cancelled")
        position = await engine.find_position("AAPL")

    assert (oco.order_class, oco.quantity, oco.parent_id, oco.broker_order_id is not None) == (
        OrderClass.OCO,
        Decimal(4),
        entry.id,
        True,
    )
    assert (oco.take_profit, oco.stop_loss) == (TakeProfit(Decimal("207.90")), StopLoss(Decimal("179.55")))
    assert (stop.leg_of, stop.type, stop.stop_price) == (oco.id, OrderType.STOP, Decimal("179.55"))
    assert position is None


def _oco_working(orders: list[Order]) -> bool:
    """Whether `orders` are an OCO and its leg alone (the bracket's held legs gone), both taken by the
    broker and working: the OCO `new`, its stop-loss `held` as it works (as Alpaca shows it)."""
    statuses = {(o.order_class, o.status) for o in orders if o.broker_order_id is not None}
    return len(orders) == 2 and statuses == {(OrderClass.OCO, OrderStatus.NEW), (OrderClass.SIMPLE, OrderStatus.HELD)}


async def _filled(engine: TradingEngine, order_id: OrderId, quantity: Decimal) -> bool:
    return (await engine.get_order(order_id)).filled_quantity == quantity


async def test_closing_a_bracketed_position_cancels_its_held_stop_loss_over_the_adapter(
    engine: TradingEngine, alpaca_sim: SimServer
) -> None:
    """The stop-loss held while Alpaca watches it is in the way of a close as its take-profit is:
    both are cancelled (each once), and the close sells the 10 at the market."""
    alpaca_sim.set_price("AAPL", "190")
    result = await engine.submit(BRACKET)
    take_profit_id, stop_id = result.order.legs
    await eventually(lambda: _is(engine, take_profit_id, OrderStatus.NEW), what="the take-profit released")
    await eventually(engine_holds(engine, "AAPL"), what="the position")
    assert (await engine.get_order(stop_id)).status is OrderStatus.HELD
    alpaca_sim.set_price("AAPL", "192")

    closed = await engine.close_position("AAPL")
    await eventually(lambda: _is(engine, closed.order.id, OrderStatus.FILLED), what="the close filled")

    for leg_id in (take_profit_id, stop_id):
        assert (await engine.get_order(leg_id)).status is OrderStatus.CANCELED
    assert await engine.find_position("AAPL") is None
    assert engine.protective_orders("AAPL") == []
    assert (await engine.realized_pnl()).total == Decimal(20)  # (192 - 190) x 10


def engine_holds(engine: TradingEngine, symbol: str) -> Callable[[], Awaitable[bool]]:
    async def holds() -> bool:
        return await engine.find_position(symbol) is not None

    return holds
