"""Amounts cross the API as JSON numbers with their exact digits, never through float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from apps.service.codec import decode_exact, encode_exact

Client = AsyncTestClient[Any]


def test_decimal_is_encoded_as_a_number_with_its_digits() -> None:
    assert encode_exact({"a": Decimal("0.1") + Decimal("0.2")}) == b'{"a":0.3}'
    assert encode_exact({"a": Decimal("190.0000")}) == b'{"a":190.0000}'
    assert encode_exact({"a": Decimal("12345678901.2345")}) == b'{"a":12345678901.2345}'


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
