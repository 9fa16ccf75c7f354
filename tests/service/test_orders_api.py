"""The order lifecycle over HTTP, each response checked against the spec's shape."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.paper import PaperExchange
from tests.service import api_spec as spec
from tests.service.conftest import conforms

Client = AsyncTestClient[Any]


async def submit(api: Client, **fields: Any) -> Any:
    body = {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market", **fields}
    return await api.post("/api/v1/orders", json=body)


async def test_a_market_order_is_accepted_and_fills(api: Client) -> None:
    """The submit response says `accepted` (what happened to the submission) even though it filled at once."""
    response = await submit(api)

    assert response.status_code == 201
    body = conforms(response.json(), spec.SUBMIT_RESPONSE)
    assert body["status"] == "accepted"
    order = conforms((await api.get(f"/api/v1/orders/{body['orderId']}")).json(), spec.ORDER)
    assert order["status"] == "filled"
    assert order["brokerStatus"] == "filled"
    assert order["filledQuantity"] == 10
    assert order["averagePrice"] == 190


async def test_the_position_opens_and_is_listed_with_the_account_totals(api: Client) -> None:
    await submit(api, quantity=5)

    listed = conforms((await api.get("/api/v1/positions")).json(), spec.POSITION_LIST)
    one = conforms((await api.get("/api/v1/positions/AAPL")).json(), spec.POSITION)

    assert [p["symbol"] for p in listed["positions"]] == ["AAPL"]
    assert one["quantity"] == 5
    assert one["side"] == "long"
    assert one["averageEntryPrice"] == 190


async def test_a_limit_order_is_modified_then_cancelled(api: Client) -> None:
    placed = (await submit(api, type="limit", limitPrice=150, quantity=2)).json()

    modified = await api.patch(f"/api/v1/orders/{placed['orderId']}", json={"limitPrice": 151.5, "quantity": 3})
    new = conforms(modified.json(), spec.ORDER)
    old = (await api.get(f"/api/v1/orders/{placed['orderId']}")).json()
    cancelled = await api.delete(f"/api/v1/orders/{new['orderId']}")

    assert modified.status_code == 200
    assert new["replaces"] == placed["orderId"]
    assert new["limitPrice"] == 151.5
    assert new["quantity"] == 3
    assert old["status"] == "cancelled"
    assert old["brokerStatus"] == "replaced"
    assert conforms(cancelled.json(), spec.CANCEL_RESPONSE)["success"] is True
    assert (await api.get(f"/api/v1/orders/{new['orderId']}")).json()["status"] == "cancelled"


async def test_a_change_the_order_does_not_take_is_422_and_changes_nothing(api: Client) -> None:
    """A well-formed PATCH that the order it meets refuses (a limit price for a stop order) is refused
    for what it asks (422 INVALID_MODIFICATION), never as malformed (400), and nothing is replaced."""
    placed = (await submit(api, side="buy", type="stop", stopPrice=300, quantity=5, timeInForce="gtc")).json()

    modified = await api.patch(f"/api/v1/orders/{placed['orderId']}", json={"stopPrice": 150, "limitPrice": 301.25})
    after = (await api.get(f"/api/v1/orders/{placed['orderId']}")).json()
    listed = (await api.get("/api/v1/orders", params={"status": "open"})).json()["orders"]

    assert modified.status_code == 422
    error = conforms(modified.json(), spec.ERROR)
    assert error["code"] == "INVALID_MODIFICATION"
    assert error["details"] == {"field": "limitPrice", "orderId": placed["orderId"]}
    assert (after["status"], after["stopPrice"]) == ("new", 300)
    assert [o["orderId"] for o in listed] == [placed["orderId"]]


async def test_a_partial_fill_shows_partially_filled(api: Client, exchange: PaperExchange) -> None:
    placed = (await submit(api, type="limit", limitPrice=180, quantity=10)).json()

    exchange.set_price("AAPL", Decimal(180))
    await api.get("/api/v1/positions")  # let the trade update stream run
    order = (await api.get(f"/api/v1/orders/{placed['orderId']}")).json()

    assert order["status"] in ("filled", "partially_filled")


async def test_orders_are_listed_by_status_and_paged_with_a_cursor(api: Client) -> None:
    for _ in range(3):
        await submit(api, quantity=1)
    await submit(api, type="limit", limitPrice=100, quantity=1)

    first = conforms((await api.get("/api/v1/orders?status=all&limit=2")).json(), spec.ORDER_LIST)
    second = (await api.get(f"/api/v1/orders?status=all&limit=2&after={first['nextCursor']}")).json()
    opened = (await api.get("/api/v1/orders?status=open")).json()
    closed = (await api.get("/api/v1/orders?status=closed&limit=100")).json()

    assert len(first["orders"]) == 2
    assert len(second["orders"]) == 2
    assert "nextCursor" not in second
    assert [o["status"] for o in opened["orders"]] == ["new"]
    assert len(closed["orders"]) == 3


async def test_close_a_position_in_part_then_close_all(api: Client) -> None:
    await submit(api, quantity=10)
    await submit(api, symbol="MSFT", quantity=2)

    part = await api.delete("/api/v1/positions/AAPL?quantity=4")
    left = (await api.get("/api/v1/positions/AAPL")).json()
    everything = await api.delete("/api/v1/positions")
    after = (await api.get("/api/v1/positions")).json()

    assert conforms(part.json(), spec.CLOSE_POSITION)["status"] == "accepted"
    assert left["quantity"] == 6
    assert conforms(everything.json(), spec.CLOSE_ALL)["closedCount"] == 2
    assert after["positions"] == []


async def test_close_takes_the_quantity_from_a_json_body_too(api: Client) -> None:
    await submit(api, quantity=10)

    response = await api.request("DELETE", "/api/v1/positions/AAPL", json={"quantity": 3})

    assert response.status_code == 200
    assert (await api.get("/api/v1/positions/AAPL")).json()["quantity"] == 7


async def test_the_account_has_the_spec_fields(api: Client) -> None:
    account = conforms((await api.get("/api/v1/account")).json(), spec.ACCOUNT)

    assert account["equity"] == 100000
    assert account["tradingBlocked"] is False


async def test_validate_runs_the_checks_without_submitting(api: Client) -> None:
    body = {"symbol": "AAPL", "side": "buy", "quantity": 100000, "type": "market"}

    response = await api.post("/api/v1/orders/validate", json=body)
    orders = (await api.get("/api/v1/orders?status=all")).json()["orders"]

    validation = conforms(response.json(), spec.PRE_TRADE_VALIDATION)
    assert response.status_code == 200
    assert validation["approved"] is False
    assert validation["checks"]["buyingPower"] is False
    assert validation["rejectionCode"] == "INSUFFICIENT_FUNDS"
    assert orders == []


async def test_risk_shows_limits_state_and_a_reset_is_recorded_with_who(api: Client) -> None:
    risk = (await api.get("/api/v1/risk")).json()

    reset = (await api.post("/api/v1/risk/reset", json={"by": "alice", "reason": "reviewed"})).json()

    assert risk["limits"]["maxPositionSizePercent"] == 10
    assert risk["limits"]["maxOpenPositions"] == 20
    assert risk["tradingState"] == "active"
    assert reset["changedBy"] == "alice"
    assert reset["reason"] == "reviewed"
    assert reset["changedAt"]


async def test_a_reset_without_a_body_names_the_caller(api: Client) -> None:
    reset = await api.post("/api/v1/risk/reset")

    assert reset.status_code == 200
    assert reset.json()["changedBy"].startswith("api@")


async def test_a_repeated_client_order_id_returns_the_first_order(api: Client) -> None:
    first = (await submit(api, clientOrderId="strategy-7-a")).json()
    again = (await submit(api, clientOrderId="strategy-7-a")).json()

    assert again["orderId"] == first["orderId"]
    assert len((await api.get("/api/v1/orders?status=all")).json()["orders"]) == 1
