"""`/v2/positions`: list, one, close one (all, `qty` or `percentage`), close all (207)."""

from __future__ import annotations

import uuid
from decimal import ROUND_DOWN, Decimal
from typing import Any

from apps.alpaca_sim import errors, parse, wire
from apps.alpaca_sim.asgi import Request, Response, json_response
from apps.alpaca_sim.orders import place
from apps.alpaca_sim.simulation import Simulation
from trading_core.broker_models import BrokerOrder, BrokerPosition
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.errors import TradingError
from trading_core.orders import Order
from trading_core.values import HUNDRED, ONE, ZERO, ClientOrderId, new_order_id


async def list_positions(sim: Simulation, request: Request) -> Response:
    return json_response([await _position_json(sim, p) for p in await sim.exchange.list_positions()])


async def get_position(sim: Simulation, request: Request, symbol_or_asset_id: str) -> Response:
    return json_response(await _position_json(sim, await _open_position(sim, symbol_or_asset_id)))


async def close_position(sim: Simulation, request: Request, symbol_or_asset_id: str) -> Response:
    """`DELETE /v2/positions/{symbol_or_asset_id}?qty=...|percentage=...`: the closing market order."""
    held = await _open_position(sim, symbol_or_asset_id)
    qty = request.query.decimal("qty")
    percentage = request.query.decimal("percentage")
    if qty is not None and percentage is not None:
        raise errors.invalid("only one of qty and percentage may be given")
    if percentage is not None:
        if not ZERO < percentage <= HUNDRED:
            raise errors.invalid("percentage must be > 0 and <= 100")
        whole = held.quantity == held.quantity.to_integral_value()
        step = ONE if whole else parse.NINE_PLACES
        qty = (abs(held.quantity) * percentage / HUNDRED).quantize(step, rounding=ROUND_DOWN)
        if not qty:
            raise errors.invalid("qty must be > 0")
    elif qty is not None and qty <= ZERO:
        raise errors.invalid("qty must be > 0")
    answer = await _close(sim, held, abs(held.quantity) if qty is None else parse.quantity(qty, "qty"))
    return json_response(sim.order_json(answer))


async def close_all(sim: Simulation, request: Request) -> Response:
    """`DELETE /v2/positions?cancel_orders=true`: 207 with one `{symbol, status, order_id?, body}` each."""
    if request.query.boolean("cancel_orders"):
        await sim.exchange.cancel_all_orders()
    results: list[dict[str, Any]] = []
    for held in await sim.exchange.list_positions():
        try:
            answer = await _close(sim, held, abs(held.quantity))
        except TradingError as e:
            failure = errors.from_trading_error(e)
            results.append({"symbol": held.symbol, "status": failure.status, "body": failure.body()})
        except errors.AlpacaError as failure:
            results.append({"symbol": held.symbol, "status": failure.status, "body": failure.body()})
        else:
            results.append(
                {
                    "symbol": held.symbol,
                    "status": 200,
                    "order_id": answer.broker_order_id,
                    "body": sim.order_json(answer),
                }
            )
    return json_response(results, 207)


async def _close(sim: Simulation, held: BrokerPosition, qty: Decimal) -> BrokerOrder:
    """A market order for `qty` against the position: a sell for a long, a buy for a short."""
    now = sim.clock.now()
    side = Side.SELL if held.quantity > ZERO else Side.BUY
    order = Order(
        id=new_order_id(),
        client_order_id=ClientOrderId(str(uuid.uuid4())),
        symbol=held.symbol,
        side=side,
        type=OrderType.MARKET,
        time_in_force=TimeInForce.DAY,
        quantity=qty,
        status=OrderStatus.PENDING_NEW,
        created_at=now,
        updated_at=now,
    )
    return await place(sim, order, intent=sim.intent_for(side, held.quantity))


async def _open_position(sim: Simulation, symbol_or_asset_id: str) -> BrokerPosition:
    asset = sim.resolve(symbol_or_asset_id)
    held = None if asset is None else await sim.position(asset.symbol)
    if held is None:
        raise errors.not_found("position does not exist")
    return held


async def _position_json(sim: Simulation, held: BrokerPosition) -> wire.JSON:
    current = held.current_price if held.current_price is not None else sim.exchange.price(held.symbol)
    return wire.position(
        asset=sim.assets[held.symbol],
        quantity=held.quantity,
        average_entry_price=held.average_entry_price,
        cost_basis=held.cost_basis,
        current_price=current,
        lastday_price=sim.lastday[held.symbol],
        held_for_orders=await sim.held_for_orders(held.symbol, held.quantity),
    )
