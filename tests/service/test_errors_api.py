"""Every error answers `{"code", "message", "details"}` with the status the one table gives its code."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from apps.service.errors import STATUS_BY_CODE, status_for
from tests.service import api_spec as spec
from tests.service.conftest import conforms
from trading_core import codes

Client = AsyncTestClient[Any]


async def test_a_risk_rejection_is_422_with_the_kept_order(api: Client) -> None:
    body = {"symbol": "AAPL", "side": "buy", "quantity": 100000, "type": "market"}

    response = await api.post("/api/v1/orders", json=body)

    rejected = conforms(response.json(), spec.REJECTION)
    assert response.status_code == 422
    assert rejected["code"] == "INSUFFICIENT_FUNDS"
    assert rejected["status"] == "rejected"
    kept = (await api.get(f"/api/v1/orders/{rejected['orderId']}")).json()
    assert kept["status"] == "rejected"
    assert kept["rejectionCode"] == "INSUFFICIENT_FUNDS"


async def test_a_brokers_insufficient_qty_refusal_is_422_insufficient_quantity_with_the_kept_order(
    api: Client,
) -> None:
    """Alpaca's "insufficient qty available" has a code of its own: INVALID_ORDER is a malformed request's (400)."""
    order = {"symbol": "AAPL", "type": "market"}
    await api.post("/api/v1/orders", json={**order, "side": "sell", "quantity": 10})  # short 10
    resting = {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "limit", "limitPrice": 1}
    assert (await api.post("/api/v1/orders", json=resting)).status_code == 201  # covers the whole short

    # The broker holds the short for the resting buy: one more would take it through zero.
    response = await api.post("/api/v1/orders", json={**order, "side": "buy", "quantity": 1})

    rejected = conforms(response.json(), spec.REJECTION)
    assert response.status_code == 422
    assert (rejected["code"], rejected["status"]) == ("INSUFFICIENT_QUANTITY", "rejected")
    assert "through zero" in rejected["reason"]
    assert STATUS_BY_CODE["INSUFFICIENT_QUANTITY"] == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"side": "buy", "quantity": 1, "type": "market"}, "symbol"),
        ({"symbol": "AAPL", "side": "hold", "quantity": 1, "type": "market"}, "side"),
        ({"symbol": "AAPL", "side": "buy", "quantity": -1, "type": "market"}, "quantity"),
        ({"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "limit"}, "limitPrice"),
        ({"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market", "limit_price": 1}, "limit_price"),
        ({"symbol": "AAPL", "side": "buy", "quantity": 1.00001, "type": "market"}, "quantity"),
        ({"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market", "strategyId": "x"}, "strategyId"),
        ({"symbol": "not a ticker", "side": "buy", "quantity": 1, "type": "market"}, "symbol"),
    ],
)
async def test_a_malformed_order_is_400_invalid_order_naming_the_field(
    api: Client, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/v1/orders", json=body)

    error = conforms(response.json(), spec.ERROR)
    assert response.status_code == 400
    assert error["code"] == "INVALID_ORDER"
    assert error["details"]["field"] == field


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"", "body: a JSON body is required"), (b"[]", "body: Expected `object`, got `array`")],
)
async def test_a_missing_or_misshapen_body_is_named_body(api: Client, body: bytes, message: str) -> None:
    response = await api.post("/api/v1/orders", content=body, headers={"content-type": "application/json"})

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["message"], error["details"]["field"]) == (400, message, "body")


async def test_closing_a_quantity_that_is_not_a_number_names_the_quantity(api: Client) -> None:
    response = await api.delete("/api/v1/positions/AAPL?quantity=abc")

    assert response.status_code == 400
    assert response.json()["details"]["field"] == "quantity"


async def test_closing_with_two_different_quantities_is_refused(api: Client) -> None:
    """Each is well formed, so it is 422 (the schema cannot tie the query to the body), not 400."""
    await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})

    response = await api.request("DELETE", "/api/v1/positions/AAPL?quantity=1", json={"quantity": 2})

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["code"], error["details"]["field"]) == (422, "QUANTITY_MISMATCH", "quantity")
    assert (await api.get("/api/v1/positions/AAPL")).json()["quantity"] == 10


async def test_a_body_that_is_not_json_is_400(api: Client) -> None:
    response = await api.post("/api/v1/orders", content=b"{not json", headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert conforms(response.json(), spec.ERROR)["code"] == "INVALID_ORDER"


UNKNOWN = "5f0c6a52-3d1e-4c7a-9b1f-2a7e8d9c0b11"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/orders/{UNKNOWN}"),
        ("GET", "/api/v1/orders/not-a-uuid"),
        ("DELETE", f"/api/v1/orders/{UNKNOWN}"),
        ("PATCH", f"/api/v1/orders/{UNKNOWN}"),
        ("GET", "/api/v1/positions/AAPL"),
        ("GET", "/api/v1/positions/not%20a%20ticker"),
        ("DELETE", "/api/v1/positions/MSFT"),
        ("GET", "/nowhere"),
    ],
)
async def test_unknown_orders_symbols_and_routes_are_404(api: Client, method: str, path: str) -> None:
    response = await api.request(method, path, json={"quantity": 1} if method == "PATCH" else None)

    assert response.status_code == 404
    conforms(response.json(), spec.ERROR)


async def test_cancelling_a_filled_order_is_409(api: Client) -> None:
    placed = (
        await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"})
    ).json()

    response = await api.delete(f"/api/v1/orders/{placed['orderId']}")

    assert response.status_code == 409
    assert conforms(response.json(), spec.ERROR)["code"] == "ORDER_NOT_CANCELABLE"


async def test_a_modify_with_nothing_to_change_is_400(api: Client) -> None:
    body = {"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "limit", "limitPrice": 100}
    placed = (await api.post("/api/v1/orders", json=body)).json()

    response = await api.patch(f"/api/v1/orders/{placed['orderId']}", json={})

    assert response.status_code == 400


async def test_a_bad_listing_query_is_400(api: Client) -> None:
    assert (await api.get("/api/v1/orders?status=sideways")).status_code == 400
    assert (await api.get("/api/v1/orders?limit=0")).status_code == 400
    assert (await api.get("/api/v1/orders?status=all&after=bogus")).status_code == 400


def test_every_risk_code_maps_to_422_and_broker_errors_to_502() -> None:
    risk = {code: status_for(code) for code in codes.RISK_CODES}

    assert set(risk.values()) == {422}
    assert status_for(codes.BROKER_ERROR) == 502
    assert STATUS_BY_CODE["INVALID_ORDER"] == 400
    assert STATUS_BY_CODE["STORE_ERROR"] == 503


async def test_a_reset_reason_too_long_to_keep_is_refused(api: Client) -> None:
    response = await api.post("/api/v1/risk/reset", json={"by": "alice", "reason": "r" * 1001})

    assert (response.status_code, response.json()["details"]["field"]) == (400, "reason")
    assert (await api.post("/api/v1/risk/reset", json={"by": "alice", "reason": "r" * 1000})).status_code == 200


async def test_a_body_over_64_kib_is_refused_with_413(api: Client) -> None:
    padding = " " * (64 * 1024)
    body = f'{{"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"}}{padding}'.encode()

    response = await api.post("/api/v1/orders", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 413
    assert (await api.get("/api/v1/orders")).json()["orders"] == []


async def test_a_cursor_not_issued_here_names_the_after_parameter_and_is_not_echoed_whole(api: Client) -> None:
    response = await api.get("/api/v1/orders", params={"after": "x" * 5000})

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["code"], error["details"]["field"]) == (400, "INVALID_CURSOR", "after")
    assert len(error["message"]) < 200
