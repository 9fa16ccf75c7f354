"""The contract at the edges: amounts only as numbers, codes that say what was wrong, API spelling,
input echoed bounded, and HTTP's methods (405 with Allow, HEAD, OPTIONS)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.service import api_spec as spec
from tests.service.conftest import conforms

Client = AsyncTestClient[Any]

ORDER: dict[str, Any] = {"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"}
LIMIT: dict[str, Any] = {**ORDER, "type": "limit", "limitPrice": 100}


async def _orders(api: Client) -> list[Any]:
    return list((await api.get("/api/v1/orders?status=all")).json()["orders"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "10"),
        ("quantity", " 2 "),
        ("quantity", "1e1"),
        ("limitPrice", "1_0"),
        ("limitPrice", "100"),
        ("quantity", True),
    ],
)
async def test_an_amount_that_is_not_a_json_number_is_refused_and_nothing_is_placed(
    api: Client, field: str, value: Any
) -> None:
    response = await api.post("/api/v1/orders", json={**LIMIT, field: value})

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["code"], error["details"]["field"]) == (400, "INVALID_ORDER", field)
    assert "must be a JSON number" in error["message"]
    assert await _orders(api) == []


@pytest.mark.parametrize("path", ["/api/v1/orders/validate", "/api/v1/orders"])
async def test_a_value_of_another_json_type_is_not_coerced(api: Client, path: str) -> None:
    """Litestar's lax conversion took `0` for `false`; the schema says boolean."""
    response = await api.post(path, json={**ORDER, "extendedHours": 0})

    assert (response.status_code, response.json()["details"]["field"]) == (400, "extendedHours")


async def test_a_quantity_in_the_query_is_decimal_digits_only(api: Client) -> None:
    await api.post("/api/v1/orders", json={**ORDER, "quantity": 10})

    refused = [(await api.delete(f"/api/v1/positions/AAPL?quantity={q}")).json() for q in ("1_0", "1e1", "+1", " 2")]
    closed = await api.delete("/api/v1/positions/AAPL?quantity=2.5")

    assert {(r["code"], r["details"]["field"]) for r in refused} == {("INVALID_PARAMETER", "quantity")}
    assert closed.status_code == 200
    assert (await api.get("/api/v1/positions/AAPL")).json()["quantity"] == 7.5


@pytest.mark.parametrize(
    "query", ["status=sideways", "limit=0", "limit=x", "limit=501", "status=all&after=bogus"], ids=str
)
async def test_a_bad_query_parameter_says_so(api: Client, query: str) -> None:
    response = await api.get(f"/api/v1/orders?{query}")

    error = conforms(response.json(), spec.ERROR)
    code = "INVALID_CURSOR" if "after" in query else "INVALID_PARAMETER"
    assert (response.status_code, error["code"]) == (400, code)
    assert error["details"]["field"] == query.rsplit("&", maxsplit=1)[-1].split("=", maxsplit=1)[0]


@pytest.mark.parametrize(
    "body", [{"by": 1}, {"reason": "r" * 1001}, {"unknown": "x"}, [1]], ids=["by", "reason", "unknown", "array"]
)
async def test_a_bad_risk_reset_body_is_an_invalid_request_not_an_invalid_order(api: Client, body: Any) -> None:
    response = await api.post("/api/v1/risk/reset", json=body)

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["code"]) == (400, "INVALID_REQUEST")


async def test_a_body_over_64_kib_has_a_code_of_its_own(api: Client) -> None:
    body = json.dumps({**ORDER, "clientOrderId": "x" * (70 * 1024)}).encode()

    response = await api.post("/api/v1/orders", content=body, headers={"content-type": "application/json"})

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["code"]) == (413, "BODY_TOO_LARGE")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ORDER, "type": "limit"}, "limitPrice"),
        ({**ORDER, "limitPrice": 5}, "limitPrice"),
        ({**ORDER, "type": "stop_limit", "limitPrice": 5}, "stopPrice"),
        ({**ORDER, "extendedHours": True}, "extendedHours"),
        ({**LIMIT, "timeInForce": "gtc", "extendedHours": True}, "extendedHours"),
    ],
)
async def test_messages_name_fields_as_the_api_spells_them(api: Client, body: dict[str, Any], field: str) -> None:
    response = await api.post("/api/v1/orders", json=body)

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["details"]["field"]) == (400, field)
    assert re.search(r"\b[a-z]+_[a-z]+_?[a-z]*\b", error["message"].replace("stop_limit", "")) is None
    assert field in error["message"]


LONG = "Q" * 5000


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/v1/orders/{LONG}", None),
        ("DELETE", f"/api/v1/orders/{LONG}", None),
        ("GET", f"/api/v1/positions/{LONG}", None),
        ("POST", "/api/v1/orders", {**ORDER, LONG: 1}),
        ("POST", "/api/v1/orders", {**ORDER, "symbol": LONG}),
        ("POST", "/api/v1/orders", {**ORDER, "clientOrderId": LONG}),
        ("POST", "/api/v1/orders", {**ORDER, "type": LONG}),
        ("GET", f"/api/v1/orders?after={LONG}", None),
        ("GET", f"/api/v1/orders?status={LONG}", None),
    ],
    ids=["order-id", "cancel-id", "symbol-path", "unknown-key", "symbol", "client-id", "type", "cursor", "status"],
)
async def test_input_is_echoed_back_at_most_80_characters(api: Client, method: str, path: str, body: Any) -> None:
    response = await api.request(method, path, json=body)

    assert 400 <= response.status_code < 500
    conforms(response.json(), spec.ERROR)
    longest = max((len(run) for run in re.findall(r"Q+", response.text)), default=0)
    assert longest <= 80


async def test_a_repeated_key_is_named_bounded(api: Client) -> None:
    key = "K" * 5000
    body = f'{{"{key}": 1, "{key}": 2}}'.encode()

    response = await api.post("/api/v1/orders", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert max(len(run) for run in re.findall(r"K+", response.text)) <= 80


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/orders", "DELETE, GET, HEAD, OPTIONS, POST"),
        ("POST", "/api/v1/orders/00000000-0000-7000-8000-000000000000", "DELETE, GET, HEAD, OPTIONS, PATCH"),
        ("DELETE", "/health", "GET, HEAD, OPTIONS"),
        ("TRACE", "/api/v1/risk/reset", "OPTIONS, POST"),
    ],
)
async def test_405_carries_allow(api: Client, method: str, path: str, allowed: str) -> None:
    response = await api.request(method, path)

    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == allowed


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/v1/orders", "DELETE, GET, HEAD, OPTIONS, POST"),
        ("/api/v1/orders/00000000-0000-7000-8000-000000000000", "DELETE, GET, HEAD, OPTIONS, PATCH"),
        ("/api/v1/positions", "DELETE, GET, HEAD, OPTIONS"),
        ("/api/v1/risk/reset", "OPTIONS, POST"),
        ("/health", "GET, HEAD, OPTIONS"),
    ],
)
async def test_options_lists_every_method_of_the_path(api: Client, path: str, allowed: str) -> None:
    response = await api.options(path)

    assert (response.status_code, response.headers["allow"]) == (204, allowed)


@pytest.mark.parametrize("path", ["/health", "/metrics", "/api/v1/orders", "/api/v1/account"])
async def test_head_answers_as_get_without_a_body(api: Client, path: str) -> None:
    got = await api.get(path)

    head = await api.head(path)

    assert (head.status_code, head.content) == (got.status_code, b"")
    assert head.headers["content-type"] == got.headers["content-type"]
