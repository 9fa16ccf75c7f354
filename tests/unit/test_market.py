"""Market and time values, and the shipped strategies that build them."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings

from trading_core.clock import SystemClock, TestClock
from trading_core.enums import OrderStatus
from trading_core.fills import Fill
from trading_core.market import MarketClock, Session
from trading_core.risk.context import RiskContext
from trading_core.testing import clocks, fills_for, risk_contexts, session_at
from trading_core.values import Symbol

from .builders import AAPL, NOW, clock, eastern, order, request


class TestMarketClock:
    def test_tells_the_new_york_time(self) -> None:
        assert time(10, 0) == clock(NOW).eastern_time

    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            (eastern(3, 59), Session.CLOSED),
            (eastern(4), Session.PRE_MARKET),
            (eastern(9, 29), Session.PRE_MARKET),
            (eastern(9, 30), Session.REGULAR),
            (eastern(15, 59), Session.REGULAR),
            (eastern(16), Session.AFTER_HOURS),
            (eastern(19, 59), Session.AFTER_HOURS),
            (eastern(20), Session.CLOSED),
        ],
        ids=str,
    )
    def test_the_shipped_session_follows_new_york_time(self, at: datetime, expected: Session) -> None:
        assert expected == session_at(at)

    @given(clocks())
    def test_shipped_clocks_are_open_exactly_in_the_regular_session(self, c: MarketClock) -> None:
        assert (c.session is Session.REGULAR) == c.is_open
        assert c.session == session_at(c.timestamp)
        assert c.timestamp.tzinfo is not None


class TestClocks:
    def test_a_test_clock_moves_only_when_told(self) -> None:
        c = TestClock(NOW)

        c.advance(timedelta(seconds=5))
        moved = c.now()
        c.set(NOW)

        assert (NOW + timedelta(seconds=5), NOW) == (moved, c.now())

    def test_a_test_clock_needs_a_timezone(self) -> None:
        with pytest.raises(ValueError, match="timezone"):
            TestClock(datetime(2026, 3, 2))  # the point of the test

    def test_the_system_clock_is_in_utc(self) -> None:
        assert SystemClock().now().utcoffset() == timedelta(0)


class TestShippedStrategies:
    @settings(max_examples=50, deadline=None)
    @given(risk_contexts(AAPL))
    def test_risk_contexts_know_every_symbol_they_hold(self, ctx: RiskContext) -> None:
        known = set(ctx.positions) | {AAPL}

        assert known == set(ctx.marks) == set(ctx.assets)
        assert all(p.symbol == s for s, p in ctx.positions.items())

    @settings(max_examples=50, deadline=None)
    @given(fills_for(order(request(quantity="12.5"), status=OrderStatus.NEW)))
    def test_fills_for_never_overfill_and_never_repeat_an_execution(self, fills: list[Fill]) -> None:
        assert Decimal(0) < sum((f.quantity for f in fills), Decimal(0)) <= Decimal("12.5")
        assert len({f.execution_id for f in fills}) == len(fills)
        assert {(Symbol("AAPL"), "buy")} == {(f.symbol, f.side.value) for f in fills}
