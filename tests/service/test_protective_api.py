"""Protective orders through the API (#17): brackets, OTOs, OCOs and trailing stops on the paper
exchange, with the operator's price endpoint moving the market (held still and always open)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperConfig, PaperExchange
from apps.service.app import create_app
from tests.service import api_spec as spec
from tests.service.conftest import conforms, container_for, settings_with
from trading_core.clock import SystemClock

Client = AsyncTestClient[Any]

BRACKET = {
    "symbol": "AAPL",
    "side": "buy",
    "quantity": 10,
    "type": "market",
    "orderClass": "bracket",
    "takeProfit": {"limitPrice": 200},
    "stopLoss": {"stopPrice": 180},
}
"""AAPL stands at 190 on the paper exchange."""


async def order(api: Client, order_id: str) -> Any:
    return conforms((await api.get(f"/api/v1/orders/{order_id}")).json(), spec.ORDER)


async def submitted(api: Client, body: dict[str, Any]) -> str:
    response = await api.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.json()
    return str(response.json()["orderId"])


async def move(api: Client, price: float) -> None:
    response = await api.put("/api/v1/paper/prices/AAPL", json={"price": price})
    assert response.status_code == 200, response.json()


async def test_a_brackets_stop_fills_when_the_price_falls_and_its_take_profit_is_cancelled(api: Client) -> None:
    parent_id = await submitted(api, BRACKET)
    parent = await order(api, parent_id)
    take_profit_id, stop_id = parent["legs"]
    position = (await api.get("/api/v1/positions/AAPL")).json()

    assert (parent["orderClass"], parent["status"], parent["filledQuantity"]) == ("bracket", "filled", 10)
    assert parent["takeProfit"] == {"limitPrice": 200}
    assert parent["stopLoss"] == {"stopPrice": 180}
    assert sorted(position["protectiveOrderIds"]) == sorted([take_profit_id, stop_id])
    for leg_id, kind in ((take_profit_id, "limit"), (stop_id, "stop")):
        leg = await order(api, leg_id)
        assert (leg["parentOrderId"], leg["type"], leg["side"], leg["status"]) == (parent_id, kind, "sell", "new")

    await move(api, 185)
    assert (await order(api, stop_id))["status"] == "new"  # above its stop: nothing yet
    await move(api, 179)

    stop, take_profit = await order(api, stop_id), await order(api, take_profit_id)
    assert (stop["status"], stop["filledQuantity"], stop["averagePrice"]) == ("filled", 10, 179)
    assert take_profit["status"] == "cancelled"
    assert (await api.get("/api/v1/positions/AAPL")).status_code == 404
    closed = (await api.get("/api/v1/positions/history")).json()["positions"]
    assert [(p["symbol"], p["realizedPnl"], p["orderId"]) for p in closed] == [("AAPL", -110, stop_id)]  # (179-190)*10


async def test_a_brackets_legs_are_held_until_the_entry_fills_and_cancelling_the_entry_cancels_them(
    api: Client,
) -> None:
    parent_id = await submitted(api, {**BRACKET, "type": "limit", "limitPrice": 185})
    legs = (await order(api, parent_id))["legs"]
    held = [(await order(api, leg))["brokerStatus"] for leg in legs]

    cancelled = await api.delete(f"/api/v1/orders/{parent_id}")

    assert held == ["held", "held"]
    assert cancelled.json()["cancelled"] is True
    assert [(await order(api, leg))["status"] for leg in legs] == ["cancelled", "cancelled"]


async def test_an_oto_with_a_stop_loss_protects_what_its_entry_bought(api: Client) -> None:
    body = {**BRACKET, "orderClass": "oto", "takeProfit": None, "stopLoss": {"stopPrice": 185, "limitPrice": 184}}
    parent_id = await submitted(api, body)
    (stop_id,) = (await order(api, parent_id))["legs"]

    stop = await order(api, stop_id)

    assert (stop["type"], stop["stopPrice"], stop["limitPrice"], stop["status"]) == ("stop_limit", 185, 184, "new")
    assert (await api.get("/api/v1/positions/AAPL")).json()["protectiveOrderIds"] == [stop_id]


async def test_closing_a_position_cancels_its_oco_first(api: Client) -> None:
    await submitted(api, {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})
    oco_id = await submitted(
        api,
        {
            "symbol": "AAPL",
            "side": "sell",
            "quantity": 10,
            "type": "limit",
            "orderClass": "oco",
            "takeProfit": {"limitPrice": 200},
            "stopLoss": {"stopPrice": 180},
        },
    )
    oco = await order(api, oco_id)
    protected = (await api.get("/api/v1/positions/AAPL")).json()["protectiveOrderIds"]

    closed = await api.delete("/api/v1/positions/AAPL")

    assert oco["orderClass"] == "oco"
    assert sorted(protected) == sorted([oco_id, *oco["legs"]])
    assert closed.status_code == 200, closed.json()
    assert (await order(api, closed.json()["orderId"]))["status"] == "filled"
    assert [(await order(api, i))["status"] for i in (oco_id, *oco["legs"])] == ["cancelled"] * (1 + len(oco["legs"]))
    assert (await api.get("/api/v1/positions/AAPL")).status_code == 404


@pytest.mark.parametrize(("trail", "fills_at"), [({"trailPrice": 5}, 195), ({"trailPercent": 2}, 196)])
async def test_a_trailing_stop_follows_the_high_water_mark_and_fills_on_the_retracement(
    api: Client, trail: dict[str, Any], fills_at: float
) -> None:
    await submitted(api, {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})
    stop_id = await submitted(api, {"symbol": "AAPL", "side": "sell", "quantity": 10, "type": "trailing_stop", **trail})

    taken = await order(api, stop_id)
    await move(api, 200)
    await move(api, fills_at + 0.01)
    still = await order(api, stop_id)
    await move(api, fills_at)
    filled = await order(api, stop_id)

    assert (taken["hwm"], taken["type"], taken["status"]) == (190, "trailing_stop", "new")
    assert {k: taken[k] for k in trail} == trail
    assert still["status"] == "new"  # 200 less the trail not yet reached: the mark followed the price up
    assert (filled["status"], filled["averagePrice"], filled["hwm"]) == ("filled", fills_at, 200)


INVALID = [
    ({**BRACKET, "takeProfit": {"limitPrice": 179}}, "takeProfit.limitPrice"),  # at or below the stop-loss
    ({**BRACKET, "stopLoss": {"stopPrice": 195}}, "stopLoss.stopPrice"),  # above the market entry's price
    ({**BRACKET, "type": "limit", "limitPrice": 179.5}, "stopLoss.stopPrice"),  # above the limit entry's
    ({**BRACKET, "stopLoss": {"stopPrice": 180, "limitPrice": 181}}, "stopLoss.limitPrice"),
    ({**BRACKET, "orderClass": "simple"}, "takeProfit"),
    ({**BRACKET, "stopLoss": None}, "stopLoss"),
    ({**BRACKET, "type": "stop", "stopPrice": 191}, "type"),
    ({**BRACKET, "timeInForce": "ioc"}, "timeInForce"),
    ({**BRACKET, "orderClass": "oto"}, "stopLoss"),
    ({**BRACKET, "orderClass": "oco", "type": "limit", "limitPrice": 200}, "limitPrice"),
    ({**BRACKET, "takeProfit": {"limitPrice": 200, "stopPrice": 1}}, "takeProfit.stopPrice"),
    ({**BRACKET, "takeProfit": {}}, "takeProfit.limitPrice"),
    ({**BRACKET, "orderClass": "triangle"}, "orderClass"),
    (
        {"symbol": "AAPL", "side": "sell", "quantity": 1, "type": "limit", "limitPrice": 200, "trailPrice": 1},
        "trailPrice",
    ),
    ({"symbol": "AAPL", "side": "sell", "quantity": 1, "type": "trailing_stop"}, "trailPrice"),
    (
        {"symbol": "AAPL", "side": "sell", "quantity": 1, "type": "trailing_stop", "trailPrice": 1, "trailPercent": 1},
        "trailPrice",
    ),
]


SELL_BRACKET = {**BRACKET, "side": "sell", "takeProfit": {"limitPrice": 180}, "stopLoss": {"stopPrice": 200}}
"""A short entry at 190: its exits buy, the take-profit below the entry, the stop-loss above."""
SIMPLE = {"symbol": "AAPL", "side": "sell", "quantity": 1}

INVALID += [
    ({**SELL_BRACKET, "stopLoss": {"stopPrice": 185}}, "stopLoss.stopPrice"),  # below a short entry's price
    ({**SELL_BRACKET, "takeProfit": {"limitPrice": 195}, "stopLoss": {"stopPrice": 200}}, "takeProfit.limitPrice"),
    ({**SELL_BRACKET, "stopLoss": {"stopPrice": 200, "limitPrice": 199}}, "stopLoss.limitPrice"),
    ({k: v for k, v in BRACKET.items() if k != "orderClass"}, "takeProfit"),  # legs on the default, simple
    ({**SIMPLE, "type": "market", "stopLoss": {"stopPrice": 180}}, "stopLoss"),
    ({**BRACKET, "type": "trailing_stop", "trailPrice": 1}, "type"),
    ({**BRACKET, "extendedHours": True, "type": "limit", "limitPrice": 189}, "extendedHours"),
    ({**BRACKET, "stopLoss": {"limitPrice": 179}}, "stopLoss.stopPrice"),
    ({**BRACKET, "takeProfit": {"limitPrice": 0}}, "takeProfit.limitPrice"),
    ({**BRACKET, "stopLoss": {"stopPrice": 180, "trail": 1}}, "stopLoss.trail"),
    ({**BRACKET, "orderClass": "oto", "stopLoss": None, "takeProfit": {"limitPrice": 185}}, "takeProfit.limitPrice"),
    ({**BRACKET, "orderClass": "oco", "type": "limit", "stopLoss": None}, "stopLoss"),
    ({**BRACKET, "orderClass": "oco", "type": "market"}, "type"),
    ({**SIMPLE, "type": "trailing_stop", "trailPercent": 0}, "trailPercent"),
    ({**SIMPLE, "type": "trailing_stop", "trailPercent": 100}, "trailPercent"),  # a sell's stop at 0
    ({**SIMPLE, "type": "trailing_stop", "trailPercent": 150}, "trailPercent"),
    ({**SIMPLE, "side": "buy", "type": "trailing_stop", "trailPercent": 150}, "trailPercent"),
    ({**SIMPLE, "type": "trailing_stop", "trailPrice": -1}, "trailPrice"),
    ({**SIMPLE, "type": "trailing_stop", "trailPrice": 1, "timeInForce": "ioc"}, "timeInForce"),
    ({**SIMPLE, "type": "stop", "stopPrice": 180, "trailPercent": 1}, "trailPercent"),
]


@pytest.mark.parametrize(("body", "field"), INVALID)
async def test_an_invalid_combination_is_refused_naming_its_field_and_nothing_is_created(
    api: Client, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/v1/orders", json=body)

    assert response.status_code == 400, response.json()
    assert (response.json()["code"], response.json()["details"]["field"]) == ("INVALID_ORDER", field)
    assert (await api.get("/api/v1/orders", params={"status": "all"})).json()["orders"] == []


@pytest.mark.parametrize(
    ("trail", "change", "fills_at"),
    [({"trailPrice": 5}, {"trailPrice": 2}, 198), ({"trailPercent": 2}, {"trailPercent": 1}, 198)],
)
async def test_a_trailing_stops_trail_is_replaced_and_the_new_one_keeps_the_high_water_mark(
    api: Client, trail: dict[str, Any], change: dict[str, Any], fills_at: float
) -> None:
    await submitted(api, {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})
    old_id = await submitted(api, {"symbol": "AAPL", "side": "sell", "quantity": 10, "type": "trailing_stop", **trail})
    await move(api, 200)

    response = await api.patch(f"/api/v1/orders/{old_id}", json=change)
    new = conforms(response.json(), spec.ORDER)
    await move(api, fills_at + 0.01)
    still = await order(api, new["orderId"])
    await move(api, fills_at)

    assert response.status_code == 200, response.json()
    assert (new["replaces"], new["type"], {k: new[k] for k in change}) == (old_id, "trailing_stop", change)
    assert (await order(api, old_id))["brokerStatus"] == "replaced"
    assert still["status"] == "new"  # 200 less the new trail not yet reached
    filled = await order(api, new["orderId"])
    assert (filled["status"], filled["averagePrice"], filled["hwm"]) == ("filled", fills_at, 200)


TRAIL_REFUSALS = [
    (
        {"type": "trailing_stop", "trailPrice": 5},
        {"trailPrice": 2, "trailPercent": 1},
        (400, "INVALID_ORDER", "trailPrice"),
    ),
    ({"type": "trailing_stop", "trailPrice": 5}, {"trailPercent": 1}, (422, "INVALID_MODIFICATION", "trailPercent")),
    ({"type": "trailing_stop", "trailPercent": 2}, {"trailPrice": 1}, (422, "INVALID_MODIFICATION", "trailPrice")),
    ({"type": "stop", "stopPrice": 180}, {"trailPrice": 1}, (422, "INVALID_MODIFICATION", "trailPrice")),
    ({"type": "limit", "limitPrice": 200}, {"trailPercent": 1}, (422, "INVALID_MODIFICATION", "trailPercent")),
    ({"type": "trailing_stop", "trailPercent": 2}, {"trailPercent": 100}, (400, "INVALID_ORDER", "trailPercent")),
    ({"type": "trailing_stop", "trailPercent": 2}, {"trailPercent": 150}, (400, "INVALID_ORDER", "trailPercent")),
    ({"type": "trailing_stop", "trailPrice": 5}, {"trailPercent": 150}, (400, "INVALID_ORDER", "trailPercent")),
]
"""A sell that the 10 bought hold, then a PATCH of a trail it cannot take: (HTTP status, code, field)."""


@pytest.mark.parametrize(("opened", "change", "refusal"), TRAIL_REFUSALS)
async def test_a_trail_the_order_cannot_take_is_refused_naming_its_field_and_nothing_changes(
    api: Client, opened: dict[str, Any], change: dict[str, Any], refusal: tuple[int, str, str]
) -> None:
    await submitted(api, {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})
    order_id = await submitted(api, {"symbol": "AAPL", "side": "sell", "quantity": 10, **opened})
    before = await order(api, order_id)

    response = await api.patch(f"/api/v1/orders/{order_id}", json=change)

    assert (response.status_code, response.json()["code"], response.json()["details"]["field"]) == refusal
    assert await order(api, order_id) == before
    listed = (await api.get("/api/v1/orders", params={"status": "all"})).json()["orders"]
    assert len(listed) == 2  # the entry and the order: no replacement was made


async def test_reads_of_a_trailing_stop_show_the_mark_and_stop_the_broker_last_reported(
    exchange: PaperExchange, bus: InMemoryEventBus
) -> None:
    """The order poll, which reads the broker's open orders anyway, refreshes them: no request of its own."""
    settings = settings_with(TRADING_ENGINE_SYNC_ORDER_STATUS_POLL_INTERVAL="50")
    async with AsyncTestClient(create_app(container_for(settings, exchange, bus))) as api:
        await submitted(api, {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})
        stop_id = await submitted(
            api, {"symbol": "AAPL", "side": "sell", "quantity": 10, "type": "trailing_stop", "trailPrice": 5}
        )
        taken = await order(api, stop_id)
        await move(api, 200)

        moved = await eventually(lambda: order(api, stop_id), lambda o: o["hwm"] == 200)

    assert (taken["hwm"], taken["stopPrice"]) == (190, 185)
    assert (moved["hwm"], moved["stopPrice"], moved["status"]) == (200, 195, "new")


async def eventually(read: Callable[[], Awaitable[Any]], holds: Callable[[Any], bool], within: float = 30) -> Any:
    """What `read` returns once `holds` says so, read again until then (a background loop must act)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await read()
        if holds(found) or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("order_class", ["bracket", "oto"])
async def test_a_brackets_or_otos_entry_is_not_replaced_as_at_alpaca_and_nothing_changes(
    api: Client, order_class: str
) -> None:
    """Alpaca's order guide: OTO orders, "like bracket orders", take no replacement; their legs do."""
    body = {**BRACKET, "orderClass": order_class, "type": "limit", "limitPrice": 185}
    parent_id = await submitted(api, body if order_class == "bracket" else {**body, "takeProfit": None})
    before = await order(api, parent_id)

    response = await api.patch(f"/api/v1/orders/{parent_id}", json={"limitPrice": 186})

    assert response.status_code == 422, response.json()
    assert (response.json()["code"], response.json()["details"]["field"]) == ("INVALID_MODIFICATION", "orderClass")
    assert f"{order_class} orders" in response.json()["message"]
    assert await order(api, parent_id) == before
    listed = (await api.get("/api/v1/orders", params={"status": "all"})).json()["orders"]
    assert sorted(o["orderId"] for o in listed) == sorted([parent_id, *before["legs"]])


async def test_a_brackets_leg_takes_a_new_price_and_stays_in_its_group(api: Client) -> None:
    parent_id = await submitted(api, BRACKET)
    take_profit_id, stop_id = (await order(api, parent_id))["legs"]

    response = await api.patch(f"/api/v1/orders/{stop_id}", json={"stopPrice": 185})
    new_stop = response.json()
    await move(api, 184)

    assert response.status_code == 200, new_stop
    assert (new_stop["replaces"], new_stop["parentOrderId"], new_stop["stopPrice"]) == (stop_id, parent_id, 185)
    assert (await order(api, parent_id))["legs"] == [take_profit_id, new_stop["orderId"]]
    assert (await order(api, new_stop["orderId"]))["status"] == "filled"
    assert (await order(api, take_profit_id))["status"] == "cancelled"


async def test_a_held_leg_takes_a_new_price_stays_held_and_fills_out_of_held_at_its_stop(api: Client) -> None:
    """A bracket's stop-loss leg moved before its entry has filled: Alpaca replaces a held leg, and
    its stop-loss is held while its take-profit works (docs/api.md, protective orders)."""
    parent_id = await submitted(api, {**BRACKET, "type": "limit", "limitPrice": 185})
    take_profit_id, stop_id = (await order(api, parent_id))["legs"]

    response = await api.patch(f"/api/v1/orders/{stop_id}", json={"stopPrice": 182})
    new_stop = conforms(response.json(), spec.ORDER)

    assert response.status_code == 200, new_stop
    assert (new_stop["replaces"], new_stop["parentOrderId"], new_stop["stopPrice"]) == (stop_id, parent_id, 182)
    assert (new_stop["brokerStatus"], new_stop["status"]) == ("held", "new")
    assert (await order(api, stop_id))["brokerStatus"] == "replaced"
    assert (await order(api, parent_id))["legs"] == [take_profit_id, new_stop["orderId"]]
    await move(api, 185)  # the entry fills: the take-profit works, the stop-loss stays held (watched)
    assert (await order(api, take_profit_id))["brokerStatus"] == "new"
    assert (await order(api, new_stop["orderId"]))["brokerStatus"] == "held"
    assert (await api.get("/api/v1/positions/AAPL")).json()["protectiveOrderIds"] == [
        take_profit_id,
        new_stop["orderId"],
    ]
    await move(api, 182.5)
    assert (await order(api, new_stop["orderId"]))["status"] == "new"  # above its new stop
    await move(api, 181.9)
    assert (await order(api, new_stop["orderId"]))["status"] == "filled"
    assert (await order(api, take_profit_id))["status"] == "cancelled"


async def test_an_entry_with_the_engines_exits_cancelled_in_part_gets_an_oco_for_what_it_filled(
    bus: InMemoryEventBus,
) -> None:
    """`risk.stopLossPercent` 5 and `risk.takeProfitPercent` 10: a limit buy at 189 goes as a bracket
    (179.55, 207.90); 4 of its 10 fill, it is cancelled, and the engine protects the 4 itself."""
    exchange = PaperExchange(SystemClock(), config=PaperConfig(max_fill_quantity=Decimal(4)))
    settings = settings_with(TRADING_ENGINE_RISK_STOP_LOSS_PERCENT="5", TRADING_ENGINE_RISK_TAKE_PROFIT_PERCENT="10")
    async with AsyncTestClient(create_app(container_for(settings, exchange, bus))) as api:
        entry_id = await submitted(
            api, {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "limit", "limitPrice": 189}
        )
        await move(api, 188.5)
        await eventually(lambda: order(api, entry_id), lambda o: o["filledQuantity"] == 4)
        assert (await api.delete(f"/api/v1/orders/{entry_id}")).status_code == 200
        position = await eventually(
            lambda: api.get("/api/v1/positions/AAPL"), lambda r: len(r.json()["protectiveOrderIds"]) == 2
        )
        entry = await order(api, entry_id)
        listed = (await api.get("/api/v1/orders", params={"status": "open"})).json()["orders"]
        (oco,) = [o for o in listed if o.get("engineProtection") == "filled_part"]
        (stop,) = [await order(api, leg) for leg in oco["legs"]]

    assert (entry["status"], entry["engineProtection"], entry["filledQuantity"]) == ("cancelled", "exits_attached", 4)
    assert (oco["orderClass"], oco["side"], oco["quantity"], oco["parentOrderId"]) == ("oco", "sell", 4, entry_id)
    assert (oco["takeProfit"], oco["stopLoss"]) == ({"limitPrice": 207.9}, {"stopPrice": 179.55})
    assert (stop["type"], stop["stopPrice"], stop["quantity"], stop["parentOrderId"]) == (
        "stop",
        179.55,
        4,
        oco["orderId"],
    )
    assert sorted(position.json()["protectiveOrderIds"]) == sorted([oco["orderId"], stop["orderId"]])
