"""Request bodies the JSON decoder must refuse as a 400 naming where, never a 500.

Found by exploratory testing: bytes that are not UTF-8 and deep nesting answered 500, and a NUL
character reached PostgreSQL (503 after the checks; another store would have kept it), and a
repeated key made a buy a sell (the last one won).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from apps.service.codec import decode_exact
from tests.service import api_spec as spec
from tests.service.conftest import conforms

Client = AsyncTestClient[Any]

JSON = {"content-type": "application/json"}
UNKNOWN = "5f0c6a52-3d1e-4c7a-9b1f-2a7e8d9c0b11"
RESET = "/api/v1/risk/reset"

JSON_ENDPOINTS = [
    ("POST", "/api/v1/orders"),
    ("POST", "/api/v1/orders/validate"),
    ("PATCH", f"/api/v1/orders/{UNKNOWN}"),
    ("DELETE", "/api/v1/positions/AAPL"),
    ("POST", RESET),
]

ORDER: dict[str, Any] = {"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"}


async def send(api: Client, method: str, path: str, body: bytes) -> Any:
    return await api.request(method, path, content=body, headers=JSON)


def refused(response: Any, field: str, code: str = "INVALID_ORDER") -> dict[str, Any]:
    """The error body of a 400 naming `field`: INVALID_ORDER for an order's body, INVALID_REQUEST for a reset's."""
    error = conforms(response.json(), spec.ERROR)
    assert (response.status_code, error["code"], error["details"]["field"]) == (400, code, field)
    return error


def body_code(path: str) -> str:
    return "INVALID_REQUEST" if path == RESET else "INVALID_ORDER"


async def stored_orders(api: Client) -> list[Any]:
    return list((await api.get("/api/v1/orders?status=all")).json()["orders"])


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"symbol": "K\xff", "quantity": 1}', id="not-utf8"),
        pytest.param(b'{"by": "\xed\xa0\x80"}', id="encoded-surrogate"),
        pytest.param(b"[" * 1000 + b"]" * 1000, id="nested-1000"),
        pytest.param(b'{"a":' * 1000 + b"1" + b"}" * 1000, id="objects-nested-1000"),
    ],
)
async def test_a_body_that_is_not_utf8_or_nests_too_deep_is_400_on_every_json_endpoint(
    api: Client, method: str, path: str, body: bytes
) -> None:
    refused(await send(api, method, path, body), "body", body_code(path))


async def test_a_repeated_key_is_refused_naming_it_and_nothing_is_ordered(api: Client) -> None:
    body = b'{"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market", "side": "sell"}'

    error = refused(await send(api, "POST", "/api/v1/orders", body), "body")

    assert "'side'" in error["message"]
    assert await stored_orders(api) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"by": "a", "\\u0062y": "b"}', id="spelled-with-an-escape"),
        pytest.param(b'{"by": "a:b", "reason": "at 10:30", "reason": "{\\"by\\": 1}"}', id="colons-in-strings"),
        pytest.param(b'[{"a": 1}, {"b": {"c": 1, "c": 2}}]', id="nested"),
    ],
)
async def test_a_repeated_key_is_found_however_it_is_written(api: Client, body: bytes) -> None:
    refused(await send(api, "POST", RESET, body), "body", "INVALID_REQUEST")


async def test_colons_braces_and_keys_inside_strings_are_not_taken_for_keys(api: Client) -> None:
    body = json.dumps({"by": 'ops: night desk {"by": 1}', "reason": "reset at 10:30:00"}).encode()

    assert (await send(api, "POST", RESET, body)).status_code == 200
    assert (await api.get("/api/v1/risk")).json()["changedBy"] == 'ops: night desk {"by": 1}'


def test_the_same_key_in_different_objects_is_no_repeat() -> None:
    body = b'{"a": {"a": 1, "b": {"a": 2}}, "b": [{"a": 1}, {"a": 2}], "c": "a:b"}'

    assert decode_exact(body) == {"a": {"a": 1, "b": {"a": 2}}, "b": [{"a": 1}, {"a": 2}], "c": "a:b"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"clientOrderId": "cid\u0000"}, "clientOrderId"),
        ({"strategyId": "\u0000"}, "strategyId"),
        ({"symbol": "AAPL\u0000"}, "symbol"),
    ],
)
async def test_a_nul_character_in_an_order_is_refused_naming_the_field_and_nothing_is_stored(
    api: Client, extra: dict[str, str], field: str
) -> None:
    """PostgreSQL's text cannot hold NUL: it answered 503 after the order had been checked."""
    response = await send(api, "POST", "/api/v1/orders", json.dumps({**ORDER, **extra}).encode())

    refused(response, field)
    assert await stored_orders(api) == []


@pytest.mark.parametrize("field", ["by", "reason"])
async def test_a_nul_character_in_a_risk_reset_is_refused_and_nothing_is_recorded(api: Client, field: str) -> None:
    before = (await api.get("/api/v1/risk")).json()

    response = await send(api, "POST", RESET, json.dumps({field: "ops\u0000"}).encode())

    refused(response, field, "INVALID_REQUEST")
    assert (await api.get("/api/v1/risk")).json() == before


async def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(api: Client) -> None:
    body = b'{"by": "ops", "reason": "C:\\\\u0000"}'

    assert (await send(api, "POST", RESET, body)).status_code == 200
    assert (await api.get("/api/v1/risk")).json()["changedBy"] == "ops"
