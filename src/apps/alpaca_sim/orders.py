"""`/v2/orders`: submit, list, get (by id and by client order id), replace, cancel one and all."""

from __future__ import annotations

import uuid
from datetime import datetime

import attrs

from apps.alpaca_sim import errors, order_requests, parse, wire
from apps.alpaca_sim.asgi import Request, Response, json_response
from apps.alpaca_sim.simulation import EVERYTHING, Simulation
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderStatus, Side
from trading_core.errors import TradingError
from trading_core.orders import Order, TradeEvent
from trading_core.ports import OrderFilter
from trading_core.values import ZERO, BrokerOrderId, ClientOrderId, Symbol, new_order_id

_PENDING = frozenset({OrderStatus.PENDING_NEW, OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE})
_REPLACEABLE = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
_CHANGEABLE = _REPLACEABLE | {OrderStatus.HELD}
"""What a replace may change: a working order, or a leg held for its entry (Alpaca replaces it too)."""
_DEFAULT_LIMIT = 50
_MAX_LIMIT = 500


async def submit(sim: Simulation, request: Request) -> Response:
    """`POST /v2/orders`: the order as accepted (fills follow on the stream)."""
    sub = order_requests.submission(parse.json_object(request.body))
    asset = sim.resolve(sub.symbol)
    if asset is None:
        raise errors.invalid(f'asset "{sub.symbol}" not found')
    now = sim.clock.now()
    client_order_id = ClientOrderId(sub.client_order_id or str(uuid.uuid4()))
    sim.traffic.submitted(client_order_id, request.received_at)
    order = Order(
        id=new_order_id(),
        client_order_id=client_order_id,
        symbol=Symbol(asset.symbol),
        side=sub.side,
        type=sub.type,
        time_in_force=sub.time_in_force,
        quantity=sub.quantity,
        status=OrderStatus.PENDING_NEW,
        created_at=now,
        updated_at=now,
        limit_price=sub.limit_price,
        stop_price=sub.stop_price,
        trail_price=sub.trail_price,
        trail_percent=sub.trail_percent,
        extended_hours=sub.extended_hours,
        order_class=sub.order_class,
        take_profit=sub.take_profit,
        stop_loss=sub.stop_loss,
    )
    pending = sim.faults.take("pending_new", request.method, request.path)
    answer = await place(sim, order, intent=sub.position_intent, pending_ms=None if pending is None else pending.ms)
    return json_response(await sim.nested_json(answer))  # Alpaca answers a class order with its legs


async def place(
    sim: Simulation, order: Order, *, intent: str | None = None, pending_ms: int | None = None
) -> BrokerOrder:
    """Submit to the exchange and remember the order's position intent (given, or from the position).

    `pending_ms` (a `pending_new` rule): the order stays `pending_new` that long, then is routed.
    """
    if intent is None:
        held = await sim.position(order.symbol)
        intent = sim.intent_for(order.side, held.quantity if held else ZERO)
    exchange = sim.exchange
    if pending_ms is None:
        answer = await exchange.submit_order(order)
    else:
        answer = exchange.submit_pending(order)
        broker_order_id = answer.broker_order_id

        async def acknowledge() -> None:
            exchange.acknowledge(broker_order_id)

        sim.later(pending_ms, acknowledge)
    sim.remember_intent(answer.broker_order_id, intent)
    sim.note_taken(answer)  # its legs: journaled although held, showing its class
    return answer


async def list_orders(sim: Simulation, request: Request) -> Response:
    """`GET /v2/orders` with status, limit, after, until, direction, nested, side and symbols."""
    query = request.query
    status = query.choice(OrderFilter, "status") or OrderFilter.OPEN
    limit = query.integer("limit", default=_DEFAULT_LIMIT, low=1, high=_MAX_LIMIT)
    after = query.timestamp("after")
    until = query.timestamp("until")
    direction = query.get("direction") or "desc"
    if direction not in ("asc", "desc"):
        raise errors.invalid(f"invalid direction: {direction!r}")
    nested = query.boolean("nested")
    side = query.choice(Side, "side")
    symbols = query.symbols("symbols")
    found = [
        snap
        for snap in await sim.exchange.list_orders(status=status, limit=EVERYTHING)
        if _within(snap.submitted_at, after, until)
        and (side is None or snap.side is side)
        and (symbols is None or snap.symbol in symbols)
    ]
    if direction == "asc":
        found.reverse()
    lag = sim.faults.take("status_lag", request.method, request.path)
    if nested:  # legs are rolled into their parents' `legs` rather than listed beside them
        rolled = {leg.broker_order_id for snap in found for leg in snap.legs}
        found = [snap for snap in found if snap.broker_order_id not in rolled]
    shown = found[:limit]
    if lag is not None:
        shown = [sim.lagged(snap, lag.ms) for snap in shown]
    return json_response([await sim.nested_json(snap) if nested else sim.order_json(snap) for snap in shown])


async def get_order(sim: Simulation, request: Request, order_id: str) -> Response:
    """`GET /v2/orders/{order_id}`."""
    nested = request.query.boolean("nested")
    snap = _lagged(sim, request, await sim.exchange.get_order(_order_id(order_id)))
    return json_response(await sim.nested_json(snap) if nested else sim.order_json(snap))


async def by_client_order_id(sim: Simulation, request: Request) -> Response:
    """`GET /v2/orders:by_client_order_id?client_order_id=...`."""
    client_order_id = request.query.get("client_order_id")
    if not client_order_id:
        raise errors.invalid("client_order_id is required")
    snap = await sim.exchange.get_order_by_client_id(ClientOrderId(client_order_id))
    if snap is None:
        raise errors.not_found("order not found")
    return json_response(sim.order_json(_lagged(sim, request, snap)))


async def replace(sim: Simulation, request: Request, order_id: str) -> Response:
    """`PATCH /v2/orders/{order_id}`: the new order, which `replaces` the old one."""
    old_id = _order_id(order_id)
    change = order_requests.replacement(parse.json_object(request.body))
    old = await sim.exchange.get_order(old_id)
    if old.status in _CHANGEABLE and _unchanged(old, change):
        raise errors.forbidden("order parameters are not changed")
    # A race with a fill is scripted for a working order only: a held leg waiting for its entry
    # cannot fill, and one watched beside its take-profit is not scripted (`begin_replace` takes
    # orders in new or partially_filled).
    if old.status in _REPLACEABLE:
        race = sim.faults.take("fill_on_replace", request.method, request.path) or sim.faults.take(
            "replace_rejected", request.method, request.path
        )
        if race is not None:
            fill_first = race.kind == "fill_on_replace"
            return json_response(await _lose_replace_race(sim, old, change, fill_first=fill_first, ms=race.ms))
    new = await sim.exchange.replace_order(
        old_id,
        client_order_id=ClientOrderId(change.client_order_id or str(uuid.uuid4())),
        quantity=change.quantity,
        limit_price=change.limit_price,
        stop_price=change.stop_price,
        time_in_force=change.time_in_force,
        trail=change.trail,
    )
    intent = sim.intents.get(old_id)
    if intent is not None:
        sim.remember_intent(new.broker_order_id, intent)
    sim.note_taken(new)  # a leg's replacement: in its group, held as the leg was
    return json_response(sim.order_json(new))


def _unchanged(old: BrokerOrder, change: order_requests.Replacement) -> bool:
    """Whether a replace asks for nothing new (a new client order id alone changes nothing)."""
    return (
        change.quantity in (None, old.quantity)
        and change.limit_price in (None, old.limit_price)
        and change.stop_price in (None, old.stop_price)
        and change.time_in_force in (None, old.time_in_force)
        and change.trail in (None, old.trail_price if old.trail_price is not None else old.trail_percent)
    )


async def _lose_replace_race(
    sim: Simulation, old: BrokerOrder, change: order_requests.Replacement, *, fill_first: bool, ms: int
) -> wire.JSON:
    """A replace that Alpaca takes (200) and then refuses: the old order `pending_replace`, then
    (after `ms`; first filled when `fill_first`) `order_replace_rejected`. The answered
    replacement is never created: its id and client order id are unknown afterwards.
    """
    exchange = sim.exchange
    exchange.begin_replace(old.broker_order_id)
    sim.publish()

    async def refuse() -> None:
        exchange.end_replace(old.broker_order_id, fill_first=fill_first)

    if ms:
        sim.later(ms, refuse)
    else:
        await refuse()
    now = sim.clock.now()
    proposed = attrs.evolve(
        old,
        broker_order_id=BrokerOrderId(str(uuid.uuid4())),
        client_order_id=ClientOrderId(change.client_order_id or str(uuid.uuid4())),
        quantity=old.quantity - old.filled_quantity if change.quantity is None else change.quantity,
        limit_price=old.limit_price if change.limit_price is None else change.limit_price,
        stop_price=old.stop_price if change.stop_price is None else change.stop_price,
        time_in_force=change.time_in_force or old.time_in_force,
        status=OrderStatus.NEW if exchange.is_open else OrderStatus.ACCEPTED,
        created_at=now,
        updated_at=now,
        submitted_at=now,
        filled_quantity=ZERO,
        filled_average_price=None,
        filled_at=None,
        canceled_at=None,
        expired_at=None,
        replaced_by=None,
        replaces=old.broker_order_id,
    )
    asset = sim.assets[old.symbol]
    return wire.order(proposed, asset_id=asset.asset_id, position_intent=sim.intents.get(old.broker_order_id))


async def cancel(sim: Simulation, request: Request, order_id: str) -> Response:
    """`DELETE /v2/orders/{order_id}`: 204 once the cancel request is taken."""
    await _cancel(sim, request, _order_id(order_id))
    return Response(204)


async def cancel_all(sim: Simulation, request: Request) -> Response:
    """`DELETE /v2/orders`: 207 with one `{id, status[, body]}` per open order."""
    open_orders = await sim.exchange.list_orders(status=OrderFilter.OPEN, limit=EVERYTHING)
    results = []
    for snap in reversed(open_orders):
        try:
            await _cancel(sim, request, snap.broker_order_id)
        except TradingError as e:
            failure = errors.from_trading_error(e)
            results.append({"id": snap.broker_order_id, "status": failure.status, "body": failure.body()})
        else:
            results.append({"id": snap.broker_order_id, "status": 200})
    return json_response(results, 207)


async def _cancel(sim: Simulation, request: Request, broker_order_id: BrokerOrderId) -> None:
    """Cancel, unless a `fill_on_cancel` rule makes the fill arrive first (then `order_cancel_rejected`)."""
    exchange = sim.exchange
    if sim.faults.active("fill_on_cancel") is not None:
        snap = await exchange.get_order(broker_order_id)
        if (
            snap.status.is_open
            and snap.status not in _PENDING
            and sim.faults.take("fill_on_cancel", request.method, request.path)
        ):
            exchange.fill_now(broker_order_id)
            sim.publish()
            filled = await exchange.get_order(broker_order_id)
            rejected = TradeUpdate(event=TradeEvent.ORDER_CANCEL_REJECTED, order=filled, timestamp=sim.clock.now())
            sim.publish([rejected])
            return
    await exchange.cancel_order(broker_order_id)


def _order_id(text: str) -> BrokerOrderId:
    try:
        return BrokerOrderId(str(uuid.UUID(text)))
    except ValueError as e:
        raise errors.invalid(f"invalid order id: {text!r}") from e


def _lagged(sim: Simulation, request: Request, snap: BrokerOrder) -> BrokerOrder:
    lag = sim.faults.take("status_lag", request.method, request.path)
    return snap if lag is None else sim.lagged(snap, lag.ms)


def _within(moment: datetime, after: datetime | None, until: datetime | None) -> bool:
    return (after is None or moment > after) and (until is None or moment < until)
