"""Amounts cross the API as JSON numbers with their exact digits, never through float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from adapters.paper import PaperExchange
from apps.service.codec import decode_exact, encode_exact

Client = AsyncTestClient[Any]


def test_decimal_is_encoded_as_a_number_with_its_digits() -> None:
    assert encode_exact({"a": Decimal("0.1") + Decimal("0.2")}) == b'{"a":0.3}'
    assert encode_exact({"a": Decimal("190.0000")}) == b'{"a":190.0000}'
    assert encode_exact({"a": Decimal("12345678901.2345")}) == b'{"a":12345678901.2345}'


def test_zero_and_tiny_amounts_are_written_out_not_in_scientific_notation() -> None:
    """`str(Decimal("0.00000000"))` is `0E-8`: valid JSON, but not how money reads."""
    body = {"pnl": Decimal("0.00000000"), "fees": [Decimal("0.00000001"), Decimal("-0.0000001")], "note": "E-mini"}

    assert encode_exact(body) == b'{"pnl":0.00000000,"fees":[0.00000001,-0.0000001],"note":"E-mini"}'
    assert encode_exact({"lot": Decimal("1E+2")}) == b'{"lot":100}'
    assert decode_exact(encode_exact(body)) == body


async def test_an_account_with_no_change_today_says_0_not_0e_8(api: Client, exchange: PaperExchange) -> None:
    exchange.resume([], Decimal("98100.00000000"))  # cash at eight places, as fills leave it

    account = (await api.get("/api/v1/account")).content

    assert b'"dailyPnl":0.00' in account
    assert b"E-" not in account


async def test_account_amounts_are_in_cents_whatever_the_broker_left(api: Client, exchange: PaperExchange) -> None:
    exchange.resume([], Decimal("96233.6525"))  # a fractional fill moves cash by fractions of a cent

    account = (await api.get("/api/v1/account")).json(parse_float=Decimal)

    amounts = [account[k] for k in ("equity", "cash", "buyingPower", "lastEquity", "dailyPnl")]
    assert amounts[:2] == [Decimal("96233.65"), Decimal("96233.65")]
    assert all(a.as_tuple().exponent == -2 for a in amounts)


def test_numbers_are_decoded_as_decimal_never_float() -> None:
    decoded = decode_exact(b'{"a": 0.1, "b": 12345678901234567890.123456789, "c": 3}')

    assert decoded == {"a": Decimal("0.1"), "b": Decimal("12345678901234567890.123456789"), "c": 3}
    assert not any(isinstance(v, float) for v in decoded.values())


async def test_a_price_of_0_1_plus_0_2_round_trips_exactly(api: Client) -> None:
    """0.1 + 0.2 is 0.30000000000000004 in float; the order keeps 0.3 exactly, on the way in and out."""
    body = b'{"symbol":"AMC","side":"buy","quantity":1,"type":"limit","limitPrice":0.3}'
    placed = (await api.post("/api/v1/orders", content=body, headers={"content-type": "application/json"})).json()

    raw = (await api.get(f"/api/v1/orders/{placed['orderId']}")).content

    order = msgspec.json.Decoder(float_hook=Decimal).decode(raw)
    assert order["limitPrice"] == Decimal("0.1") + Decimal("0.2")
    assert b'"limitPrice":0.3000' in raw


async def test_a_quantity_beyond_float_precision_is_refused_not_rounded(api: Client) -> None:
    body = b'{"symbol":"AAPL","side":"buy","quantity":1.00000000000000001,"type":"market"}'

    response = await api.post("/api/v1/orders", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.json()["details"]["field"] == "quantity"
