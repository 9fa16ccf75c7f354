"""The simulator's pure parts: decimal and time formats, query values, the rate limit window, the rule book,
route names."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from apps.alpaca_sim import errors
from apps.alpaca_sim.activities import fill_activity
from apps.alpaca_sim.app import api_router
from apps.alpaca_sim.cli import parser, settings_from
from apps.alpaca_sim.faults import FaultBook, parse_rule
from apps.alpaca_sim.minute_bars import MinuteBars
from apps.alpaca_sim.parse import Query
from apps.alpaca_sim.ratelimit import RateLimiter
from apps.alpaca_sim.wire import dec, ratio, trade_update, ts
from apps.config import simulator_keys
from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.enums import OrderStatus, OrderType, Side, TimeInForce
from trading_core.orders import TradeEvent
from trading_core.values import BrokerOrderId, ClientOrderId, ExecutionId, Symbol

SRC = Path(__file__).resolve().parents[2] / "src"


class TestFormats:
    @pytest.mark.parametrize(
        ("value", "text"),
        [("10.0000", "10"), ("172.40", "172.4"), ("1E+2", "100"), ("-0", "0"), ("0.00010", "0.0001"), ("-3.5", "-3.5")],
    )
    def test_decimals_are_plain_digits_without_trailing_zeros(self, value: str, text: str) -> None:
        assert dec(Decimal(value)) == text

    def test_ratios_have_sixteen_places_and_zero_over_zero(self) -> None:
        assert ratio(Decimal(1), Decimal(3)) == "0.3333333333333333"
        assert ratio(Decimal(1), Decimal(0)) == "0"

    def test_timestamps_are_utc_with_z(self) -> None:
        assert ts(datetime(2026, 3, 2, 15, 4, 5, 123456, tzinfo=UTC)) == "2026-03-02T15:04:05.123456Z"


class TestQuery:
    @pytest.mark.parametrize(
        "given",
        [
            "2026-03-02T15:04:05Z",
            "2026-03-02T15:04:05+00:00",
            "2026-03-02T15:04:05 00:00",  # a '+' sent unencoded reads as a space
            "2026-03-02T10:04:05-05:00",
            "2026-03-02T15:04:05.000000000Z",
        ],
    )
    def test_timestamps_in_every_form_alpaca_and_alpaca_py_send(self, given: str) -> None:
        moment = Query({"after": [given]}).timestamp("after")

        assert moment == datetime(2026, 3, 2, 15, 4, 5, tzinfo=UTC)

    def test_a_bare_date_is_midnight_utc_and_garbage_is_refused(self) -> None:
        assert Query({"after": ["2026-03-02"]}).timestamp("after") == datetime(2026, 3, 2, tzinfo=UTC)
        with pytest.raises(errors.AlpacaError) as refused:
            Query({"after": ["yesterday"]}).timestamp("after")
        assert (refused.value.status, refused.value.code) == (422, 40010001)

    @pytest.mark.parametrize(("given", "expected"), [("True", True), ("true", True), ("1", True), ("False", False)])
    def test_booleans_as_python_writes_them(self, given: str, expected: bool) -> None:
        assert Query({"nested": [given]}).boolean("nested") is expected

    def test_limit_is_capped_and_must_be_positive(self) -> None:
        assert Query({"limit": ["900"]}).integer("limit", default=50, low=1, high=500) == 500
        with pytest.raises(errors.AlpacaError):
            Query({"limit": ["0"]}).integer("limit", default=50, low=1, high=500)


class TestRateLimiter:
    def test_a_fixed_window_per_key_that_reopens_after_a_minute(self) -> None:
        now = [1000.0]
        limiter = RateLimiter(2, clock=lambda: now[0])

        first, second, third = (limiter.hit("a") for _ in range(3))
        other = limiter.hit("b")
        now[0] += 60
        reopened = limiter.hit("a")

        assert first is not None
        assert second is not None
        assert third is not None
        assert other is not None
        assert reopened is not None
        assert [v.allowed for v in (first, second, third, other, reopened)] == [True, True, False, True, True]
        assert [v.remaining for v in (first, second, third)] == [1, 0, 0]
        assert (first.reset, reopened.reset) == (1060, 1120)

    def test_zero_turns_it_off(self) -> None:
        assert RateLimiter(0).hit("a") is None

    def test_it_tells_when_each_window_of_a_key_opened_until_cleared(self) -> None:
        now = [1000.0]
        limiter = RateLimiter(2, clock=lambda: now[0])

        for at in (1000.0, 1030.0, 1059.9, 1075.0, 1200.0):
            now[0] = at
            limiter.hit("a")
        limiter.hit("b")
        opened = limiter.opened("a")
        limiter.clear()

        assert opened == [1000.0, 1075.0, 1200.0]
        assert limiter.opened("b") == limiter.opened("a") == []


class TestRouteNames:
    @pytest.mark.parametrize(
        ("method", "path", "name"),
        [
            ("POST", "/v2/orders", "POST /v2/orders"),
            ("PATCH", "/v2/orders/61e69015", "PATCH /v2/orders/{order_id}"),
            ("GET", "/v2/orders:by_client_order_id", "GET /v2/orders:by_client_order_id"),
            ("GET", "/v2/account/activities/FILL", "GET /v2/account/activities/{activity_type}"),
            ("GET", "/v2/stocks/AAPL/quotes/latest", "GET /v2/stocks/{symbol}/quotes/latest"),
            ("PUT", "/v2/orders", None),
            ("GET", "/v2/nothing", None),
        ],
    )
    def test_a_route_is_named_by_its_method_and_pattern(self, method: str, path: str, name: str | None) -> None:
        assert api_router().name(method, path) == name


class TestFaultBook:
    def test_count_caps_the_firings_and_match_narrows_them(self) -> None:
        book = FaultBook()
        book.replace([parse_rule({"kind": "status", "status": 503, "match": "POST /v2/orders", "count": 2})])

        fired = [book.for_request("POST", "/v2/orders").status for _ in range(3)]
        other = book.for_request("GET", "/v2/orders").status

        assert fired == [503, 503, None]
        assert other is None
        assert book.describe() == [
            {"kind": "status", "status": 503, "match": "POST /v2/orders", "count": 2, "fired": 2}
        ]

    def test_status_wins_over_accept_then_status_and_latency_applies_to_both(self) -> None:
        book = FaultBook()
        book.replace(
            [
                parse_rule({"kind": "accept_then_status", "status": 504}),
                parse_rule({"kind": "status", "status": 500}),
                parse_rule({"kind": "latency", "ms": 5}),
            ]
        )

        faults = book.for_request("GET", "/v2/account")

        assert (faults.status, faults.accept_then_status, faults.latency_ms) == (500, None, 5)

    def test_accept_later_comes_after_status_and_before_accept_then_status(self) -> None:
        book = FaultBook()
        book.replace(
            [
                parse_rule({"kind": "accept_then_status", "status": 504}),
                parse_rule({"kind": "accept_later", "drop": True, "ms": 1500, "match": "POST /v2/orders"}),
                parse_rule({"kind": "status", "status": 503, "count": 1}),
            ]
        )

        first = book.for_request("POST", "/v2/orders")
        second = book.for_request("POST", "/v2/orders")
        elsewhere = book.for_request("PATCH", "/v2/orders/x")

        assert (first.status, first.later_ms) == (503, None)
        assert (second.later_ms, second.later_status, second.accept_then_drop, second.accept_then_status) == (
            1500,
            None,
            True,
            None,
        )
        assert (elsewhere.later_ms, elsewhere.accept_then_status) == (None, 504)

    def test_the_race_and_pending_rules_read_their_delay(self) -> None:
        rules = [
            parse_rule({"kind": "fill_on_replace"}),
            parse_rule({"kind": "replace_rejected", "ms": 250}),
            parse_rule({"kind": "pending_new", "ms": 40}),
            parse_rule({"kind": "accept_later", "status": 502, "ms": 7}),
            parse_rule({"kind": "drop_updates", "events": ["fill", "partial_fill"]}),
        ]

        assert [r.ms for r in rules] == [0, 250, 40, 7, 0]
        assert (rules[3].status, rules[3].drop) == (502, False)
        assert rules[4].events == {"fill", "partial_fill"}

    def test_the_fill_plan_answers_the_sizes_while_the_rule_lasts(self) -> None:
        book = FaultBook()
        book.replace([parse_rule({"kind": "partial_fills", "sizes": ["3", 2], "count": 1})])

        assert book.plan_fills(Decimal(10)) == (Decimal(3), Decimal(2))
        assert book.plan_fills(Decimal(10)) is None


def test_the_simulators_keys_come_from_its_two_variables_else_test() -> None:
    assert simulator_keys({}) == ("test", "test")
    assert simulator_keys({"ALPACA_SIM_KEY": "PK1", "ALPACA_SIM_SECRET": "s"}) == ("PK1", "s")


class TestMinuteBars:
    def test_a_minutes_trades_make_one_bar_sent_when_a_later_minute_trades(self) -> None:
        bars = MinuteBars()
        minute = datetime(2026, 3, 2, 15, 4, tzinfo=UTC)
        during = [
            bars.record("AAPL", Decimal(price), 100, minute.replace(second=second))
            for price, second in (("10", 1), ("12", 20), ("9", 40), ("11", 59))
        ]
        other = bars.record("MSFT", Decimal(400), 100, minute.replace(minute=5))

        finished = bars.record("AAPL", Decimal(13), 100, minute.replace(minute=5, second=2))

        assert during == [None, None, None, None]
        assert other is None
        assert finished == {
            "T": "b",
            "S": "AAPL",
            "o": Decimal(10),
            "h": Decimal(12),
            "l": Decimal(9),
            "c": Decimal(11),
            "v": 400,
            "t": minute,
            "n": 4,
            "vw": Decimal("10.5"),
        }

    def test_clearing_forgets_the_open_bars(self) -> None:
        bars = MinuteBars()
        minute = datetime(2026, 3, 2, 15, 4, tzinfo=UTC)
        bars.record("AAPL", Decimal(10), 100, minute)
        bars.clear()

        assert bars.record("AAPL", Decimal(11), 100, minute.replace(minute=5)) is None


class TestIncompleteFills:
    """A fill without its price, quantity or execution id (a journal edited by hand) is refused by name,
    with or without `python -O`: it used to be an `assert`."""

    @staticmethod
    def _fill(**missing: None) -> TradeUpdate:
        at = datetime(2026, 3, 2, 15, tzinfo=UTC)
        order = BrokerOrder(
            broker_order_id=BrokerOrderId("8d1d1b8a-0000-4000-8000-000000000001"),
            client_order_id=ClientOrderId("ours-1"),
            symbol=Symbol("AAPL"),
            side=Side.BUY,
            type=OrderType.MARKET,
            time_in_force=TimeInForce.DAY,
            quantity=Decimal(5),
            status=OrderStatus.FILLED,
            created_at=at,
            updated_at=at,
            submitted_at=at,
            filled_quantity=Decimal(5),
            filled_average_price=Decimal(100),
        )
        complete = {"execution_id": ExecutionId("e-1"), "price": Decimal(100), "quantity": Decimal(5)}
        return TradeUpdate(event=TradeEvent.FILL, order=order, timestamp=at, **{**complete, **missing})

    def test_a_complete_fill_is_written_and_listed(self) -> None:
        fill = self._fill()
        assert trade_update(fill, {})["data"]["qty"] == "5"
        assert fill_activity(fill).price == Decimal(100)

    @pytest.mark.parametrize("member", ["price", "quantity"])
    def test_a_fill_without_price_or_quantity_is_not_written(self, member: str) -> None:
        with pytest.raises(ValueError, match="without a price or a quantity"):
            trade_update(self._fill(**{member: None}), {})

    def test_a_fill_without_an_execution_id_is_not_listed_as_an_activity(self) -> None:
        with pytest.raises(ValueError, match="without an execution id"):
            fill_activity(self._fill(execution_id=None))


def test_no_production_code_asserts() -> None:
    """An `assert` vanishes under `python -O`: checks that guard behaviour raise instead."""
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


def test_the_simulators_history_days_option_reaches_its_exchange() -> None:
    args = parser().parse_args(["--history-days", "20", "--seed", "3"])

    settings = settings_from(args, ("k", "s"))

    assert (settings.paper.history_days, settings.paper.seed) == (20, 3)
    with pytest.raises(SystemExit):
        parser().parse_args(["--history-days", "-1"])
