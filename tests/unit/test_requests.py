"""Order request validation: every rule a broker applies to an order's shape, and split_at_flat."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_core.enums import OrderType, Side, TimeInForce
from trading_core.errors import InvalidOrder
from trading_core.orders import Order
from trading_core.requests import OrderRequest, follow_up_client_order_id, split_at_flat, validate
from trading_core.testing import order_requests, quantities
from trading_core.values import ClientOrderId, new_order_id

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
BASE: dict[str, Any] = {"symbol": "AAPL", "side": "buy", "quantity": "10"}


def create(**kw: Any) -> OrderRequest:
    return OrderRequest.create(**{**BASE, **kw})


def field_refused(**kw: Any) -> str:
    """The field named by the InvalidOrder that `create(**kw)` raises."""
    with pytest.raises(InvalidOrder) as e:
        create(**kw)
    return e.value.field


class TestValidRequests:
    @pytest.mark.parametrize(
        "kw",
        [
            {"type": "market"},
            {"type": "limit", "limit_price": "187.25"},
            {"type": "stop", "stop_price": "180"},
            {"type": "stop_limit", "stop_price": "180", "limit_price": "179.50"},
            {"type": "trailing_stop", "trail_price": "2.50"},
            {"type": "trailing_stop", "trail_percent": "1.5", "time_in_force": "gtc"},
            {"type": "limit", "limit_price": "10", "extended_hours": True},
            {"type": "market", "quantity": None, "notional": "250.50"},
            {"type": "market", "time_in_force": "opg"},
            {"type": "limit", "limit_price": "10", "time_in_force": "cls"},
            {"type": "market", "time_in_force": "ioc"},
            {"type": "limit", "limit_price": "10", "time_in_force": "fok"},
            {"type": "market", "quantity": "0.0001"},
        ],
        ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
    )
    def test_is_accepted(self, kw: dict[str, Any]) -> None:
        request = create(**kw)

        assert request.type == OrderType(kw["type"])

    def test_parses_words_into_the_vocabularies(self) -> None:
        request = create(type="limit", limit_price="10", time_in_force="gtc", side="sell")

        assert (request.side, request.type, request.time_in_force) == (Side.SELL, OrderType.LIMIT, TimeInForce.GTC)

    def test_quantities_and_prices_are_kept_at_four_places(self) -> None:
        request = create(type="limit", quantity=3, limit_price="0.5")

        assert (Decimal("3.0000"), Decimal("0.5000")) == (request.quantity, request.limit_price)
        assert request.quantity is not None
        assert request.quantity.as_tuple().exponent == -4

    @pytest.mark.parametrize("symbol", ["BRK.B", "brk.b", "BF-B", "AAPL"])
    def test_class_share_symbols_are_accepted(self, symbol: str) -> None:
        request = create(type="market", symbol=symbol)

        assert symbol.upper() == request.symbol

    @given(order_requests(types=tuple(OrderType)))
    def test_shipped_requests_pass_validation(self, request: OrderRequest) -> None:
        validate(request)

    def test_signed_quantity_is_negative_for_a_sell(self) -> None:
        assert (Decimal(10), Decimal(-10)) == (
            create(type="market").signed_quantity,
            create(type="market", side="sell").signed_quantity,
        )

    def test_a_notional_request_has_no_signed_quantity_until_it_is_resolved(self) -> None:
        notional = OrderRequest.create(symbol="AAPL", side="buy", type="market", notional="100")

        with pytest.raises(InvalidOrder) as refused:
            _ = notional.signed_quantity

        assert refused.value.field == "notional"


class TestAmounts:
    @pytest.mark.parametrize("quantity", ["0", "-1", "0.00001", 0, "-0.0001"])
    def test_quantity_must_be_positive_at_four_places(self, quantity: object) -> None:
        assert field_refused(type="market", quantity=quantity) == "quantity"

    def test_quantity_or_notional_is_required(self) -> None:
        assert field_refused(type="market", quantity=None) == "quantity"

    def test_quantity_and_notional_together_are_refused(self) -> None:
        assert field_refused(type="market", notional="100") == "quantity"

    @pytest.mark.parametrize(
        "kw",
        [
            {"type": "limit", "limit_price": "10"},
            {"type": "stop", "stop_price": "10"},
            {"type": "market", "time_in_force": "gtc"},
            {"type": "market", "time_in_force": "opg"},
            {"type": "market", "time_in_force": "ioc"},
        ],
    )
    def test_notional_is_only_for_market_day_orders(self, kw: dict[str, Any]) -> None:
        assert field_refused(quantity=None, notional="100", **kw) == "notional"

    @pytest.mark.parametrize("notional", ["0", "-5"])
    def test_notional_must_be_positive(self, notional: str) -> None:
        assert field_refused(type="market", quantity=None, notional=notional) == "notional"

    @pytest.mark.parametrize(
        ("field", "value", "kw"),
        [
            ("quantity", 1.0, {"type": "market"}),
            ("notional", 100.0, {"type": "market", "quantity": None}),
            ("limit_price", 10.5, {"type": "limit"}),
            ("stop_price", 9.0, {"type": "stop"}),
            ("trail_price", 1.0, {"type": "trailing_stop"}),
        ],
    )
    def test_floats_are_refused(self, field: str, value: float, kw: dict[str, Any]) -> None:
        assert field_refused(**{**kw, field: value}) == field


class TestPrices:
    @pytest.mark.parametrize(("order_type", "kw"), [("limit", {}), ("stop_limit", {"stop_price": "10"})])
    def test_limit_price_is_required_for_limit_types(self, order_type: str, kw: dict[str, Any]) -> None:
        assert field_refused(type=order_type, **kw) == "limit_price"

    @pytest.mark.parametrize(("order_type", "kw"), [("stop", {}), ("stop_limit", {"limit_price": "10"})])
    def test_stop_price_is_required_for_stop_types(self, order_type: str, kw: dict[str, Any]) -> None:
        assert field_refused(type=order_type, **kw) == "stop_price"

    @pytest.mark.parametrize(
        ("order_type", "kw"),
        [("market", {}), ("stop", {"stop_price": "10"}), ("trailing_stop", {"trail_price": "1"})],
    )
    def test_limit_price_is_refused_where_it_has_no_meaning(self, order_type: str, kw: dict[str, Any]) -> None:
        assert field_refused(type=order_type, limit_price="10", **kw) == "limit_price"

    @pytest.mark.parametrize(
        ("order_type", "kw"),
        [("market", {}), ("limit", {"limit_price": "10"}), ("trailing_stop", {"trail_price": "1"})],
    )
    def test_stop_price_is_refused_where_it_has_no_meaning(self, order_type: str, kw: dict[str, Any]) -> None:
        assert field_refused(type=order_type, stop_price="10", **kw) == "stop_price"

    @pytest.mark.parametrize("field", ["limit_price", "stop_price"])
    @pytest.mark.parametrize("value", ["0", "-1"])
    def test_prices_must_be_positive(self, field: str, value: str) -> None:
        assert field_refused(type="stop_limit", **{"limit_price": "10", "stop_price": "10", field: value}) == field

    @pytest.mark.parametrize(("field", "value"), [("limit_price", "10.001"), ("stop_price", "1.005")])
    def test_sub_penny_prices_of_a_dollar_or_more_are_refused(self, field: str, value: str) -> None:
        assert field_refused(type="stop_limit", **{"limit_price": "10", "stop_price": "10", field: value}) == field

    @pytest.mark.parametrize("value", ["0.9999", "0.0001", "1.00", "1.01", "1.0100"])
    def test_four_places_below_a_dollar_and_cents_from_a_dollar_are_accepted(self, value: str) -> None:
        request = create(type="limit", limit_price=value)

        assert Decimal(value) == request.limit_price

    def test_more_than_four_places_below_a_dollar_is_refused(self) -> None:
        assert field_refused(type="limit", limit_price="0.99995") == "limit_price"


class TestTrailingStop:
    def test_needs_a_trail(self) -> None:
        assert field_refused(type="trailing_stop") == "trail_price"

    def test_refuses_both_trails(self) -> None:
        assert field_refused(type="trailing_stop", trail_price="1", trail_percent="1") == "trail_price"

    @pytest.mark.parametrize("trail", [{"trail_price": "1"}, {"trail_percent": "2"}])
    def test_a_trail_is_refused_on_other_types_naming_the_one_given(self, trail: dict[str, str]) -> None:
        assert field_refused(type="market", **trail) == next(iter(trail))

    @pytest.mark.parametrize("tif", ["ioc", "fok", "opg", "cls"])
    def test_takes_only_day_or_gtc(self, tif: str) -> None:
        assert field_refused(type="trailing_stop", trail_price="1", time_in_force=tif) == "time_in_force"

    def test_trail_price_follows_the_sub_penny_rule(self) -> None:
        assert field_refused(type="trailing_stop", trail_price="1.234") == "trail_price"

    def test_trail_percent_must_be_positive(self) -> None:
        assert field_refused(type="trailing_stop", trail_percent="0") == "trail_percent"

    @pytest.mark.parametrize("side", ["buy", "sell"])
    @pytest.mark.parametrize("percent", ["100", "150", "100.0001", "-5"])
    def test_trail_percent_of_100_or_more_or_not_positive_is_refused(self, side: str, percent: str) -> None:
        """At 100 % a sell's stop is 0: it never triggers, so the order protects nothing."""
        assert field_refused(type="trailing_stop", side=side, trail_percent=percent) == "trail_percent"

    def test_a_trail_percent_just_under_100_is_taken(self) -> None:
        request = create(type="trailing_stop", trail_percent="99.9999")

        assert Decimal("99.9999") == request.trail_percent


class TestTimeInForce:
    @pytest.mark.parametrize(
        "kw",
        [
            {"type": "market"},
            {"type": "stop", "stop_price": "10"},
            {"type": "limit", "limit_price": "10", "time_in_force": "gtc"},
            {"type": "limit", "limit_price": "10", "time_in_force": "ioc"},
            {"type": "stop_limit", "limit_price": "10", "stop_price": "10"},
        ],
    )
    def test_extended_hours_is_only_for_limit_day_orders(self, kw: dict[str, Any]) -> None:
        assert field_refused(extended_hours=True, **kw) == "extended_hours"

    @pytest.mark.parametrize("value", ["true", 1, None])
    def test_extended_hours_must_be_a_boolean(self, value: object) -> None:
        assert field_refused(type="limit", limit_price="10", extended_hours=value) == "extended_hours"

    @pytest.mark.parametrize("tif", ["opg", "cls"])
    @pytest.mark.parametrize(
        "kw", [{"type": "stop", "stop_price": "10"}, {"type": "stop_limit", "stop_price": "10", "limit_price": "10"}]
    )
    def test_auction_orders_are_only_market_or_limit(self, tif: str, kw: dict[str, Any]) -> None:
        assert field_refused(time_in_force=tif, **kw) == "time_in_force"


class TestVocabularies:
    @pytest.mark.parametrize(
        ("field", "value"),
        [("side", "BUY"), ("side", "short"), ("type", "moc"), ("time_in_force", "gtd"), ("time_in_force", None)],
    )
    def test_unknown_words_are_refused_naming_the_field(self, field: str, value: object) -> None:
        assert field_refused(**{"type": "market", field: value}) == field

    @pytest.mark.parametrize("symbol", ["", "1ABC", "TOO.LONGX", "AA PL"])
    def test_invalid_symbols_are_refused(self, symbol: str) -> None:
        assert field_refused(type="market", symbol=symbol) == "symbol"


class TestIdentifiers:
    def test_client_order_id_of_48_characters_is_accepted(self) -> None:
        cid = "c" * 48

        assert cid == create(type="market", client_order_id=cid).client_order_id

    @pytest.mark.parametrize("cid", ["c" * 49, "", "   ", "cid\x00", "\x00"])
    def test_client_order_id_too_long_blank_or_holding_a_nul_is_refused(self, cid: str) -> None:
        assert field_refused(type="market", client_order_id=cid) == "client_order_id"

    @pytest.mark.parametrize("field", ["strategy_id", "decision_id"])
    def test_strategy_and_decision_ids_are_normalised_uuids(self, field: str) -> None:
        raw = uuid.uuid4()

        assert str(raw) == getattr(create(type="market", **{field: raw.hex.upper()}), field)

    @pytest.mark.parametrize("field", ["strategy_id", "decision_id"])
    @pytest.mark.parametrize("value", ["momentum-1", "", "1234"])
    def test_strategy_and_decision_ids_must_be_uuids(self, field: str, value: str) -> None:
        assert field_refused(type="market", **{field: value}) == field


class TestSplitAtFlat:
    def test_a_sell_through_a_long_splits_into_close_and_open(self) -> None:
        request = create(type="market", side="sell", quantity="15", client_order_id="mine")

        closing, opening = split_at_flat(request, Decimal(10))

        assert opening is not None
        assert (Decimal(10), Decimal(5)) == (closing.quantity, opening.quantity)
        assert (closing.side, opening.side) == (Side.SELL, Side.SELL)
        # The caller's id stays with the first half and the second's is derived from it: a retry finds both.
        assert (closing.client_order_id, opening.client_order_id) == ("mine", follow_up_client_order_id("mine"))
        assert follow_up_client_order_id("mine") != follow_up_client_order_id("yours")
        assert len(follow_up_client_order_id("x" * 48)) <= 48  # within the broker's limit

    def test_a_buy_through_a_short_splits_too(self) -> None:
        closing, opening = split_at_flat(create(type="market", quantity="7.5"), Decimal("-2.5"))

        assert opening is not None
        assert (Decimal("2.5"), Decimal("5.0")) == (closing.quantity, opening.quantity)

    @pytest.mark.parametrize(
        ("side", "quantity", "held"),
        [("sell", "10", "10"), ("sell", "4", "10"), ("buy", "4", "10"), ("sell", "4", "0"), ("buy", "4", "-4")],
        ids=["exact-close", "partial-close", "adds-to-long", "flat", "exact-cover"],
    )
    def test_an_order_that_does_not_cross_zero_is_left_whole(self, side: str, quantity: str, held: str) -> None:
        request = create(type="market", side=side, quantity=quantity, client_order_id="mine")

        actual = split_at_flat(request, Decimal(held))

        assert (request, None) == actual

    def test_a_notional_order_is_left_whole(self) -> None:
        request = create(type="market", side="sell", quantity=None, notional="100")

        assert (request, None) == split_at_flat(request, Decimal(1))

    @given(
        order_requests(types=(OrderType.MARKET, OrderType.LIMIT)),
        quantities(2_000).map(Decimal) | st.just(Decimal(0)),
        st.sampled_from([1, -1]),
    )
    def test_the_parts_add_up_and_the_first_never_crosses_zero(
        self, request: OrderRequest, held_abs: Decimal, sign: int
    ) -> None:
        held = held_abs * sign

        closing, opening = split_at_flat(request, held)

        total = closing.signed_quantity + (opening.signed_quantity if opening else 0)
        assert request.signed_quantity == total
        after_closing = held + closing.signed_quantity
        assert held == 0 or after_closing == 0 or (after_closing > 0) == (held > 0)
        if opening is not None:
            assert after_closing == 0
            assert attrs.evolve(request, quantity=None, client_order_id=None) == attrs.evolve(opening, quantity=None)


class TestFromOrder:
    @given(order_requests(types=tuple(OrderType)), st.uuids(), st.uuids())
    def test_an_order_gives_back_the_request_it_was_made_from(
        self, request: OrderRequest, strategy: uuid.UUID, decision: uuid.UUID
    ) -> None:
        asked = attrs.evolve(
            request, client_order_id=ClientOrderId("mine-1"), strategy_id=str(strategy), decision_id=str(decision)
        )
        order = Order.from_request(asked, order_id=new_order_id(), client_order_id=ClientOrderId("mine-1"), now=NOW)

        actual = OrderRequest.from_order(order)

        assert asked == actual

    def test_changes_replace_the_orders_fields_and_are_checked_as_create_checks_them(self) -> None:
        request = create(type="limit", limit_price="187.25", client_order_id="mine-2")
        order = Order.from_request(request, order_id=new_order_id(), client_order_id=ClientOrderId("mine-2"), now=NOW)

        changed = OrderRequest.from_order(order, quantity=Decimal(3), limit_price="186.5", client_order_id=None)

        assert attrs.evolve(request, quantity=Decimal(3), limit_price=Decimal("186.5"), client_order_id=None) == changed
        with pytest.raises(InvalidOrder) as refused:
            OrderRequest.from_order(order, limit_price=Decimal("186.555"))
        assert refused.value.field == "limit_price"


class TestRepeats:
    FIRST: ClassVar[dict[str, Any]] = {"type": "limit", "limit_price": "187.25", "time_in_force": "gtc"}

    def test_the_same_request_repeats_itself_whatever_its_ids(self) -> None:
        first = create(**self.FIRST, client_order_id="mine-3")

        again = create(**self.FIRST, client_order_id="mine-3", strategy_id=str(uuid.uuid4()))

        assert again.repeats(first)

    @pytest.mark.parametrize(
        "change",
        [
            {"symbol": "MSFT"},
            {"side": "sell"},
            {"type": "stop_limit", "stop_price": "190"},
            {"time_in_force": "day"},
            {"limit_price": "187.26"},
            {"quantity": "11"},
        ],
    )
    def test_a_request_for_another_order_does_not(self, change: dict[str, Any]) -> None:
        first = create(**self.FIRST)

        other = create(**{**self.FIRST, **change})

        assert not other.repeats(first)

    def test_a_notional_request_repeats_whatever_quantity_it_was_sized_to(self) -> None:
        sized = create(type="market", quantity="3.2")

        again = create(type="market", quantity=None, notional="600")

        assert again.repeats(sized)
        assert not sized.repeats(again)
