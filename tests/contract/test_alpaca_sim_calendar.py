"""The simulator on the NYSE calendar (its default): `/v2/calendar` and `/v2/clock` tell the truth for any
date (holidays, early closes, settlement dates), the session opens and closes by the clock, day orders
expire at the close, and `/_sim/market` is refused; `--always-open` keeps the session set by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from apps.alpaca_sim import SimServer, SimSettings
from apps.alpaca_sim.cli import parser, settings_from
from apps.alpaca_sim.sessions import run as run_sessions
from apps.alpaca_sim.simulation import Simulation
from tests.contract.alpaca_sim_support import api
from tests.unit.paper_support import order
from trading_core.clock import TestClock
from trading_core.enums import OrderStatus
from trading_core.market import EASTERN

THANKSGIVING = date(2025, 11, 27)
DAY_AFTER = date(2025, 11, 28)


def et(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=EASTERN).astimezone(UTC)


@pytest.fixture
def clock() -> TestClock:
    return TestClock(et(THANKSGIVING, 11))


@pytest.fixture
def nyse_sim(clock: TestClock) -> Iterator[SimServer]:
    with SimServer(SimSettings(rate_limit=0), clock=clock) as server:
        yield server


async def test_the_calendar_leaves_out_holidays_and_shows_early_closes_and_settlement(nyse_sim: SimServer) -> None:
    async with api(nyse_sim) as http:
        days = (await http.get("/v2/calendar", params={"start": "2025-11-26", "end": "2025-12-26"})).json()
        old = (await http.get("/v2/calendar", params={"start": "2018-07-03", "end": "2018-07-03"})).json()

    by_date = {d["date"]: d for d in days}
    assert "2025-11-27" not in by_date
    assert "2025-12-25" not in by_date
    assert "2025-11-29" not in by_date  # a Saturday
    assert by_date["2025-11-28"] == {
        "date": "2025-11-28",
        "open": "09:30",
        "close": "13:00",
        "session_open": "0400",
        "session_close": "1700",
        "settlement_date": "2025-12-01",  # T+1, over the weekend
    }
    assert (by_date["2025-12-24"]["close"], by_date["2025-12-24"]["settlement_date"]) == ("13:00", "2025-12-26")
    assert by_date["2025-11-26"]["settlement_date"] == "2025-11-28"  # T+1 over Thanksgiving
    assert (by_date["2025-12-01"]["close"], by_date["2025-12-01"]["session_close"]) == ("16:00", "2000")
    # 2018: T+2, and July 3rd closed early, before the 4th
    assert [(d["date"], d["close"], d["settlement_date"]) for d in old] == [("2018-07-03", "13:00", "2018-07-06")]


async def test_the_clock_follows_the_calendar_and_a_day_order_expires_at_the_early_close(
    nyse_sim: SimServer, clock: TestClock
) -> None:
    async with api(nyse_sim) as http:
        holiday = (await http.get("/v2/clock")).json()
        clock.advance(et(DAY_AFTER, 10) - clock.now())
        morning = (await http.get("/v2/clock")).json()
        body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "100"}
        body |= {"time_in_force": "day"}
        placed = (await http.post("/v2/orders", json=body)).json()
        clock.advance(et(DAY_AFTER, 13, 1) - clock.now())
        after = (await http.get(f"/v2/orders/{placed['id']}")).json()
        afternoon = (await http.get("/v2/clock")).json()

    assert (holiday["is_open"], holiday["next_open"], holiday["next_close"]) == (
        False,
        "2025-11-28T09:30:00-05:00",
        "2025-11-28T13:00:00-05:00",
    )
    assert (morning["is_open"], morning["next_close"]) == (True, "2025-11-28T13:00:00-05:00")
    assert placed["status"] == "new"
    assert after["status"] == "expired"
    assert (afternoon["is_open"], afternoon["next_open"]) == (False, "2025-12-01T09:30:00-05:00")
    assert nyse_sim.state()["market_open"] is False


async def test_the_session_cannot_be_set_by_hand_while_it_follows_the_calendar(nyse_sim: SimServer) -> None:
    async with api(nyse_sim) as http:
        refused = await http.post("/_sim/market", json={"open": True})

    assert refused.status_code == 409
    assert "XNYS" in refused.json()["message"]
    assert "--always-open" in refused.json()["message"]
    assert nyse_sim.state()["market_open"] is False  # Thanksgiving: closed, and still so


async def test_the_always_open_mode_is_open_on_a_holiday_and_set_by_hand(clock: TestClock) -> None:
    with SimServer(SimSettings(rate_limit=0, always_open=True), clock=clock) as sim:
        assert sim.state()["market_open"] is True
        assert sim.set_market(is_open=False)["open"] is False
        async with api(sim) as http:
            days = (await http.get("/v2/calendar", params={"start": "2025-11-27", "end": "2025-11-28"})).json()

    assert [d["date"] for d in days] == ["2025-11-28"]  # the calendar's days are the NYSE's either way


def test_the_command_follows_the_calendar_unless_told_always_open() -> None:
    keys = ("k", "s")

    assert settings_from(parser().parse_args([]), keys).always_open is False
    assert settings_from(parser().parse_args(["--always-open"]), keys).always_open is True


class _Stop(Exception):
    pass


async def test_the_timer_closes_the_session_at_its_instant_with_no_request() -> None:
    clock = TestClock(et(DAY_AFTER, 12, 55))
    sim = Simulation(SimSettings(rate_limit=0), clock=clock)
    resting = await sim.exchange.submit_order(order("AAPL", quantity=1, type="limit", limit_price="100"))
    sim.exchange.set_price("AAPL", sim.exchange.price("AAPL") + 1)
    asked: list[float] = []

    async def sleep(seconds: float) -> None:
        if asked:
            raise _Stop
        asked.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    with pytest.raises(_Stop):
        await run_sessions(sim, sleep=sleep)

    assert asked == [300.0]  # from 12:55 to the early close at 13:00
    assert (await sim.exchange.get_order(resting.broker_order_id)).status is OrderStatus.EXPIRED
    assert not sim.exchange.is_open
    assert sim.lastday["AAPL"] == sim.exchange.price("AAPL")  # today's last price is tomorrow's lastday
