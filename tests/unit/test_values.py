"""Amounts, symbols and identifiers."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_core.errors import InvalidOrder
from trading_core.testing import prices, quantities, symbols
from trading_core.values import (
    BrokerOrderId,
    ClientOrderId,
    EventId,
    ExecutionId,
    OrderId,
    Symbol,
    at_four_places,
    canonical_uuid,
    money,
    new_client_order_id,
    new_event_id,
    new_order_id,
    price,
    quantity,
    quantize4,
    to_decimal,
)


class TestToDecimal:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [(7, Decimal(7)), ("12.50", Decimal("12.50")), (" 3 ", Decimal(3)), (Decimal("0.1"), Decimal("0.1"))],
    )
    def test_parses_ints_strings_and_decimals(self, value: object, expected: Decimal) -> None:
        actual = to_decimal(value, field="quantity")

        assert expected == actual

    @pytest.mark.parametrize("value", [1.5, 0.1, True, False])
    def test_refuses_floats_and_booleans(self, value: object) -> None:
        """A float is inexact and a bool is an int by accident: both are refused by type."""
        with pytest.raises(InvalidOrder) as e:
            to_decimal(value, field="limit_price")

        assert e.value.field == "limit_price"

    @pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", "abc", "", [1], None])
    def test_refuses_what_is_not_a_finite_number(self, value: object) -> None:
        with pytest.raises(InvalidOrder) as e:
            to_decimal(value, field="quantity")

        assert e.value.field == "quantity"


class TestQuantize4:
    def test_keeps_four_places(self) -> None:
        assert Decimal("1.2300") == quantize4(Decimal("1.23"))

    def test_accepts_trailing_zeros_beyond_four_places(self) -> None:
        assert Decimal("1.2300") == quantize4(Decimal("1.230000"))

    def test_refuses_a_fifth_significant_place(self) -> None:
        with pytest.raises(InvalidOrder, match="more than 4 decimal places"):
            quantize4(Decimal("1.23456"), field="limit_price")

    def test_accepts_the_largest_schema_value(self) -> None:
        assert Decimal("99999999999.9999") == quantize4(Decimal("99999999999.9999"))

    @pytest.mark.parametrize("value", ["100000000000", "1e11", "1e30", "-1e40", "123456789012345678901234567890"])
    def test_refuses_values_beyond_the_schema(self, value: str) -> None:
        """Too large for DECIMAL(15,4): an InvalidOrder naming the field, not a decimal trap."""
        with pytest.raises(InvalidOrder) as e:
            quantize4(Decimal(value), field="quantity")

        assert e.value.field == "quantity"

    @given(st.integers(-(10**15) + 1, 10**15 - 1))
    def test_every_four_place_value_in_range_is_kept_exactly(self, ticks: int) -> None:
        value = Decimal(ticks).scaleb(-4)

        assert value == quantize4(value)


class TestQuantityAndPrice:
    @pytest.mark.parametrize("parse", [quantity, price])
    @pytest.mark.parametrize("value", ["0", "-1", "0.00000", -5])
    def test_must_be_positive(self, parse: object, value: object) -> None:
        with pytest.raises(InvalidOrder, match="greater than 0"):
            parse(value)  # type: ignore[operator]

    def test_huge_integer_quantity_is_an_invalid_order(self) -> None:
        with pytest.raises(InvalidOrder) as e:
            quantity(10**30)

        assert e.value.field == "quantity"

    @given(quantities())
    def test_shipped_quantities_are_valid(self, value: Decimal) -> None:
        assert value == quantity(value)

    @given(prices())
    def test_shipped_prices_are_valid(self, value: Decimal) -> None:
        assert value == price(value)


class TestMoney:
    @pytest.mark.parametrize(
        ("exact", "expected"),
        [("1.005", "1.00"), ("1.015", "1.02"), ("-2.345", "-2.34"), ("0.00499999", "0.00"), ("7", "7.00")],
    )
    def test_rounds_to_cents_half_to_even(self, exact: str, expected: str) -> None:
        actual = money(Decimal(exact))

        assert Decimal(expected) == actual
        assert actual.as_tuple().exponent == -2


class TestSymbol:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("AAPL", "AAPL"), ("brk.b", "BRK.B"), (" msft ", "MSFT"), ("BF-B", "BF-B"), ("X", "X"), ("GOOGL", "GOOGL")],
    )
    def test_accepts_tickers_and_normalises_them(self, text: str, expected: str) -> None:
        assert expected == Symbol(text)

    @pytest.mark.parametrize(
        "text", ["", "1ABC", "AAPL!", "TOOLONGX", "AB CD", "BRK.", "BRK.BBBB", "A.B.C", "AAPL\n.B", "ÅAPL"]
    )
    def test_refuses_what_is_not_a_ticker(self, text: str) -> None:
        with pytest.raises(InvalidOrder) as e:
            Symbol(text)

        assert e.value.field == "symbol"

    @pytest.mark.parametrize("value", [123, None, b"AAPL"])
    def test_refuses_non_strings(self, value: object) -> None:
        with pytest.raises(InvalidOrder, match="must be a string"):
            Symbol(value)  # type: ignore[arg-type]

    def test_a_symbol_is_returned_as_is(self) -> None:
        s = Symbol("AAPL")

        assert s is Symbol(s)

    @given(symbols())
    def test_shipped_symbols_are_valid_and_fit_the_schema(self, s: Symbol) -> None:
        assert s == Symbol(str(s))
        assert len(s) <= 10


class TestIdentifiers:
    def test_new_ids_are_uuids_of_their_own_kind(self) -> None:
        ids = [new_order_id(), new_client_order_id(), new_event_id(), ExecutionId.new(), BrokerOrderId.new()]

        assert [OrderId, ClientOrderId, EventId, ExecutionId, BrokerOrderId] == [type(i) for i in ids]
        assert all(str(uuid.UUID(i)) == i for i in ids)

    def test_new_ids_are_unique(self) -> None:
        assert len({new_order_id() for _ in range(100)}) == 100

    def test_new_client_order_id_fits_the_broker_limit(self) -> None:
        assert len(new_client_order_id()) <= 48


class TestCanonicalUuid:
    @given(st.uuids())
    def test_every_spelling_of_a_uuid_reads_as_its_canonical_text(self, value: uuid.UUID) -> None:
        canonical = str(value)
        spellings = [canonical, canonical.upper(), value.hex, f"{{{canonical}}}", value.urn, value]

        actual = [canonical_uuid(s) for s in spellings]

        assert actual == [canonical] * len(spellings)

    @given(st.text().filter(lambda t: len(t.replace("-", "").strip("{}")) != 32))
    def test_text_of_any_other_length_is_no_uuid(self, text: str) -> None:
        assert canonical_uuid(text) is None

    @pytest.mark.parametrize(
        "value",
        ["", "not-a-uuid", "g" * 32, "12345678-1234-1234-1234-12345678901z", None, 42, b"\x00" * 16],
    )
    def test_what_is_not_a_uuid_is_none(self, value: object) -> None:
        assert canonical_uuid(value) is None


def test_at_four_places_writes_out_places_but_never_rounds() -> None:
    assert [str(at_four_places(Decimal(v))) for v in ("10", "0.5", "90.12", "1.23456789")] == [
        "10.0000",
        "0.5000",
        "90.1200",
        "1.23456789",  # more places than four: kept exact
    ]
