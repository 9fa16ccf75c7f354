"""`/v2/account/activities`: one FILL per execution, in Alpaca's shape, paged as Alpaca pages them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.alpaca_sim import SimServer
from tests.contract.alpaca_sim_support import TIMESTAMP, api, is_decimal_string, market, trade_updates, updates
from trading_core.market import EASTERN

ACTIVITY_MEMBERS = frozenset(
    {
        "id",
        "activity_type",
        "transaction_time",
        "type",
        "price",
        "qty",
        "side",
        "symbol",
        "leaves_qty",
        "order_id",
        "cum_qty",
        "order_status",
    }
)
ACTIVITY_ID = re.compile(r"^\d{17}::(?P<execution>[0-9a-f-]{36})$")


def _execution_id(activity: dict[str, Any]) -> str:
    found = ACTIVITY_ID.match(activity["id"])
    assert found is not None, activity["id"]
    return found["execution"]


async def _fills(sim: SimServer, *orders: dict[str, Any]) -> None:
    async with api(sim) as http:
        for body in orders:
            assert (await http.post("/v2/orders", json=body)).status_code == 200


async def _get(sim: SimServer, path: str = "/v2/account/activities/FILL", **params: Any) -> Any:
    async with api(sim) as http:
        answer = await http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_each_execution_is_one_fill_activity_whose_id_carries_the_streams_execution_id(
    alpaca_sim: SimServer,
) -> None:
    alpaca_sim.set_faults({"kind": "partial_fills", "sizes": ["3", "2"], "count": 1})
    async with trade_updates(alpaca_sim) as ws:
        await _fills(alpaca_sim, market("AAPL", "10"), market("XOM", "4", side="sell"))
        sent = [u for u in await updates(ws, 6) if u["event"] in ("fill", "partial_fill")]

    listed = await _get(alpaca_sim, direction="asc")

    assert all(set(a) == ACTIVITY_MEMBERS for a in listed)
    assert [_execution_id(a) for a in listed] == [u["execution_id"] for u in sent]
    assert [(a["type"], a["qty"], a["cum_qty"], a["leaves_qty"], a["order_status"]) for a in listed] == [
        ("partial_fill", "3", "3", "7", "partially_filled"),
        ("partial_fill", "2", "5", "5", "partially_filled"),
        ("fill", "5", "10", "0", "filled"),
        ("fill", "4", "4", "0", "filled"),
    ]
    assert [a["side"] for a in listed] == ["buy", "buy", "buy", "sell_short"]
    assert [a["price"] for a in listed] == [u["price"] for u in sent]
    assert [a["order_id"] for a in listed] == [u["order"]["id"] for u in sent]
    first = listed[0]
    assert (first["activity_type"], first["symbol"]) == ("FILL", "AAPL")
    assert TIMESTAMP.match(first["transaction_time"])
    assert all(is_decimal_string(first[k]) for k in ("price", "qty", "cum_qty", "leaves_qty"))
    # The id's time is the execution's, in US Eastern to the millisecond.
    moment = datetime.fromisoformat(first["transaction_time"])
    assert first["id"][:17] == moment.astimezone(EASTERN).strftime("%Y%m%d%H%M%S%f")[:17]


async def test_pages_follow_the_last_id_in_either_direction(alpaca_sim: SimServer) -> None:
    await _fills(alpaca_sim, *(market("KO", str(n)) for n in range(1, 8)))
    everything = await _get(alpaca_sim)

    pages: list[list[dict[str, Any]]] = []
    token = None
    while True:
        page = await _get(alpaca_sim, page_size=3, **({"page_token": token} if token else {}))
        if not page:
            break
        pages.append(page)
        token = page[-1]["id"]
    ascending = await _get(alpaca_sim, direction="asc", page_size=3, page_token=everything[-3]["id"])

    assert [a["qty"] for a in everything] == ["7", "6", "5", "4", "3", "2", "1"]  # newest first
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [a for p in pages for a in p] == everything
    assert ascending == everything[-4::-1][:3]


async def test_after_until_and_date_bound_the_entries(alpaca_sim: SimServer) -> None:
    await _fills(alpaca_sim, market("KO", "1"), market("KO", "2"), market("KO", "3"))
    everything = await _get(alpaca_sim, direction="asc")
    middle = everything[1]["transaction_time"]
    today = datetime.fromisoformat(middle).astimezone(EASTERN).date()

    assert [a["qty"] for a in await _get(alpaca_sim, direction="asc", after=middle)] == ["3"]
    assert [a["qty"] for a in await _get(alpaca_sim, direction="asc", until=middle)] == ["1"]
    assert len(await _get(alpaca_sim, date=today.isoformat())) == 3
    assert await _get(alpaca_sim, date=(today - timedelta(days=1)).isoformat()) == []
    assert await _get(alpaca_sim, after=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()) == []


async def test_a_page_holds_100_at_most_unless_a_date_is_given(alpaca_sim: SimServer) -> None:
    await _fills(alpaca_sim, *(market("KO", "1") for _ in range(105)))
    today = datetime.now(EASTERN).date().isoformat()

    assert len(await _get(alpaca_sim)) == 100
    assert len(await _get(alpaca_sim, page_size=500)) == 100
    assert len(await _get(alpaca_sim, date=today)) == 105


async def test_every_activity_lists_fills_and_other_types_are_empty(alpaca_sim: SimServer) -> None:
    await _fills(alpaca_sim, market("KO", "1"))

    assert len(await _get(alpaca_sim, "/v2/account/activities")) == 1
    assert len(await _get(alpaca_sim, "/v2/account/activities", activity_types="FILL,DIV")) == 1
    assert len(await _get(alpaca_sim, "/v2/account/activities", category="trade_activity")) == 1
    assert await _get(alpaca_sim, "/v2/account/activities", category="non_trade_activity") == []
    assert await _get(alpaca_sim, "/v2/account/activities/DIV") == []


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/v2/account/activities/FFFFF", {}, "invalid activity type: FFFFF"),
        ("/v2/account/activities", {"activity_types": "FILL,NOPE"}, "invalid activity type: NOPE"),
        ("/v2/account/activities/FILL", {"direction": "sideways"}, "invalid direction"),
        ("/v2/account/activities/FILL", {"page_token": "20260101000000000::nope"}, "invalid page_token"),
        ("/v2/account/activities/FILL", {"page_size": "0"}, "page_size"),
        ("/v2/account/activities/FILL", {"category": "trade_activity"}, "category"),
    ],
)
async def test_bad_queries_are_refused_with_422(
    alpaca_sim: SimServer, path: str, params: dict[str, str], message: str
) -> None:
    async with api(alpaca_sim) as http:
        answer = await http.get(path, params=params)

    assert (answer.status_code, answer.json()["code"]) == (422, 40010001)
    assert message in answer.json()["message"]


async def test_a_reset_forgets_the_activities(alpaca_sim: SimServer) -> None:
    await _fills(alpaca_sim, market("KO", "1"))
    alpaca_sim.reset()

    assert await _get(alpaca_sim) == []
