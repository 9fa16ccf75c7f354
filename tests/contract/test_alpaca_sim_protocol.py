"""The simulator speaks Alpaca's protocol exactly: shapes, auth, refusals, limits and the stream handshake.

Raw HTTP (httpx) and raw WebSocket (websockets) clients, so that nothing is forgiven by an SDK.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from apps.alpaca_sim import SimServer
from tests.contract.alpaca_sim_support import (
    AUTH,
    ORDER_MEMBERS,
    TIMESTAMP,
    WAIT,
    api,
    authenticate,
    is_decimal_string,
    limit,
    listen,
    market,
    nothing_within,
    recv,
    trade_updates,
    updates,
)

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


class TestShapes:
    async def test_order_has_every_member_with_alpacas_types(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            answer = await http.post("/v2/orders", json=limit(client_order_id="mine-1"))
        order = answer.json()

        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        assert set(order) == ORDER_MEMBERS
        assert all(TIMESTAMP.match(order[k]) for k in ("created_at", "updated_at", "submitted_at"))
        assert (order["qty"], order["filled_qty"], order["limit_price"]) == ("5", "0", "150")
        assert (order["status"], order["type"], order["order_type"], order["order_class"]) == (
            "new",
            "limit",
            "limit",
            "",
        )
        nulls = {k for k, v in order.items() if v is None}
        assert nulls == {
            "filled_at",
            "expired_at",
            "expires_at",
            "canceled_at",
            "failed_at",
            "replaced_at",
            "replaced_by",
            "replaces",
            "notional",
            "filled_avg_price",
            "stop_price",
            "legs",
            "trail_percent",
            "trail_price",
            "hwm",
            "ratio_qty",
        }
        assert (order["client_order_id"], order["position_intent"], order["extended_hours"]) == (
            "mine-1",
            "buy_to_open",
            False,
        )

    async def test_filled_order_position_and_account_carry_decimals_as_strings(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=market(qty=10))).json()
            alpaca_sim.set_price("AAPL", "191.50")
            order = (await http.get(f"/v2/orders/{placed['id']}")).json()
            position = (await http.get("/v2/positions/AAPL")).json()
            account = (await http.get("/v2/account")).json()

        assert (order["status"], order["filled_qty"], order["filled_avg_price"]) == ("filled", "10", "190")
        assert TIMESTAMP.match(order["filled_at"])
        assert position["qty"] == "10"
        assert position["market_value"] == "1915"
        assert position["unrealized_pl"] == "15"
        assert (position["side"], position["exchange"], position["asset_class"]) == ("long", "NASDAQ", "us_equity")
        decimals = [k for k in position if k not in ("asset_id", "symbol", "exchange", "asset_class", "side")]
        assert all(is_decimal_string(position[k]) for k in decimals if k != "asset_marginable")
        assert (account["cash"], account["equity"], account["long_market_value"]) == ("98100", "100015", "1915")
        money = ("cash", "buying_power", "regt_buying_power", "equity", "last_equity", "portfolio_value", "multiplier")
        assert all(is_decimal_string(account[k]) for k in money)
        assert (account["status"], account["currency"], account["shorting_enabled"]) == ("ACTIVE", "USD", True)

    async def test_quantities_take_nine_decimal_places_and_come_back_exactly(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=market(qty="0.123456789"))).json()
            fill = (await updates(ws, 2))[1]
            closed = await http.delete("/v2/positions/AAPL", params={"qty": "0.023456789"})
            position = (await http.get("/v2/positions/AAPL")).json()
            half = (await http.delete("/v2/positions/AAPL", params={"percentage": "50"})).json()
            finer = await http.post("/v2/orders", json=market(qty="0.1234567891"))
            gtc = await http.post("/v2/orders", json=market(qty="0.123456789", time_in_force="gtc"))

        assert (placed["qty"], fill["qty"], fill["position_qty"], fill["order"]["filled_qty"]) == (
            "0.123456789",
            "0.123456789",
            "0.123456789",
            "0.123456789",
        )
        assert (closed.status_code, closed.json()["qty"], position["qty"]) == (200, "0.023456789", "0.1")
        assert half["qty"] == "0.05"
        assert [(a.status_code, a.json()["code"]) for a in (finer, gtc)] == [(422, 40010001), (422, 40010001)]

    async def test_clock_is_in_new_york_time_and_calendar_days_are_hh_mm(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            clock = (await http.get("/v2/clock")).json()
            days = (await http.get("/v2/calendar", params={"start": "2026-03-06", "end": "2026-03-09"})).json()

        assert set(clock) == {"timestamp", "is_open", "next_open", "next_close"}
        assert clock["next_open"].endswith(("-05:00", "-04:00"))
        assert [d["date"] for d in days] == ["2026-03-06", "2026-03-09"]
        assert (days[0]["open"], days[0]["close"]) == ("09:30", "16:00")

    async def test_asset_says_class_and_is_found_by_every_symbol_form(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            asset = (await http.get("/v2/assets/AAPL")).json()
            forms = [
                (await http.get(f"/v2/assets/{form}")).json()["symbol"]
                for form in ("AAPL:NASDAQ", "AAPL:NASDAQ:us_equity", asset["id"])
            ]
            lower = await http.get("/v2/assets/aapl")
            listed = (await http.get("/v2/assets", params={"status": "active", "exchange": "NYSE"})).json()

        assert (asset["class"], asset["status"], asset["maintenance_margin_requirement"]) == ("us_equity", "active", 30)
        assert forms == ["AAPL"] * 3
        assert lower.status_code == 404
        assert {a["exchange"] for a in listed} == {"NYSE"}

    async def test_latest_trade_and_quote_send_prices_as_numbers(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_price("MSFT", "416.25")
        async with api(alpaca_sim) as http:
            trade = (await http.get("/v2/stocks/MSFT/trades/latest")).json()
            quotes = (await http.get("/v2/stocks/quotes/latest", params={"symbols": "MSFT,NOPE"})).json()
            unknown = await http.get("/v2/stocks/NOPE/trades/latest")

        assert (trade["symbol"], trade["trade"]["p"], trade["trade"]["s"]) == ("MSFT", 416.25, 100)
        assert TIMESTAMP.match(trade["trade"]["t"])
        assert list(quotes["quotes"]) == ["MSFT"]
        assert (quotes["quotes"]["MSFT"]["bp"], quotes["quotes"]["MSFT"]["ap"]) == (416.25, 416.25)
        assert unknown.status_code == 404

    async def test_decimals_are_taken_as_json_numbers_or_strings(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            as_number = (await http.post("/v2/orders", json=limit(qty=2.0, price=93.5))).json()
            as_string = (await http.post("/v2/orders", json=limit(qty="2", price="93.50"))).json()

        assert (as_number["qty"], as_number["limit_price"]) == ("2", "93.5")
        assert (as_string["qty"], as_string["limit_price"]) == ("2", "93.5")

    @pytest.mark.parametrize("true", ["True", "true", "1"])
    async def test_query_booleans_read_as_python_writes_them(self, alpaca_sim: SimServer, true: str) -> None:
        async with api(alpaca_sim) as http:
            await http.post("/v2/orders", json=limit())
            answer = await http.delete("/v2/positions", params={"cancel_orders": true})

        assert answer.status_code == 207
        assert alpaca_sim.state()["open_orders"] == 0

    async def test_cancel_answers_204_with_no_body_and_cancel_all_207(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            one = (await http.post("/v2/orders", json=limit())).json()
            two = (await http.post("/v2/orders", json=limit())).json()
            cancelled = await http.delete(f"/v2/orders/{one['id']}")
            again = await http.delete(f"/v2/orders/{one['id']}")
            everything = await http.delete("/v2/orders")

        assert (cancelled.status_code, cancelled.content) == (204, b"")
        assert (again.status_code, again.json()["code"]) == (422, 42210000)
        assert (everything.status_code, everything.json()) == (207, [{"id": two["id"], "status": 200}])

    async def test_close_all_answers_207_with_the_closing_orders(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market("AAPL", "3"))
            await http.post("/v2/orders", json=market("TSLA", "2", side="sell"))
            answer = await http.delete("/v2/positions")

        body = answer.json()
        assert answer.status_code == 207
        assert {(e["symbol"], e["status"], e["body"]["side"], e["body"]["qty"]) for e in body} == {
            ("AAPL", 200, "sell", "3"),
            ("TSLA", 200, "buy", "2"),
        }
        assert all(e["order_id"] == e["body"]["id"] for e in body)
        assert alpaca_sim.state()["positions"] == {}


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "wrong"},
            {"APCA-API-KEY-ID": "other", "APCA-API-SECRET-KEY": "test"},
        ],
        ids=["missing", "wrong secret", "wrong key"],
    )
    async def test_bad_keys_get_401_and_change_nothing(self, alpaca_sim: SimServer, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(base_url=alpaca_sim.url, headers=headers, timeout=WAIT, verify=False) as http:
            answer = await http.post("/v2/orders", json=market())

        assert (answer.status_code, answer.json()) == (401, {"code": 40110000, "message": "unauthorized"})
        assert alpaca_sim.state()["orders"] == 0

    async def test_keys_come_from_the_settings(self, alpaca_sim_factory: Any) -> None:
        sim = alpaca_sim_factory(key_id="PKSIM", secret_key="s3cr3t")
        async with httpx.AsyncClient(base_url=sim.url, timeout=WAIT, verify=False) as http:
            good = await http.get("/v2/account", headers={"APCA-API-KEY-ID": "PKSIM", "APCA-API-SECRET-KEY": "s3cr3t"})
            default = await http.get("/v2/account", headers=AUTH)

        assert (good.status_code, default.status_code) == (200, 401)


def _state_without_requests(sim: SimServer) -> dict[str, Any]:
    state = sim.state()
    del state["requests"]
    return state


BAD_ORDERS: dict[str, tuple[Any, int, int]] = {
    "missing symbol": ({k: v for k, v in market().items() if k != "symbol"}, 422, 40010001),
    "missing side": ({k: v for k, v in market().items() if k != "side"}, 422, 40010001),
    "missing type": ({k: v for k, v in market().items() if k != "type"}, 422, 40010001),
    "missing time_in_force": ({k: v for k, v in market().items() if k != "time_in_force"}, 422, 40010001),
    "missing qty": ({k: v for k, v in market().items() if k != "qty"}, 422, 40010001),
    "zero qty": (market(qty="0"), 422, 40010001),
    "negative qty": (market(qty=-5), 422, 40010001),
    "qty not a number": (market(qty="ten"), 422, 40010001),
    "qty a boolean": (market(qty=True), 422, 40010001),
    "unknown side": (market(side="hold"), 422, 40010001),
    "unknown type": (market(type="iceberg"), 422, 40010001),
    "unknown time_in_force": (market(time_in_force="gtd"), 422, 40010001),
    "unknown symbol": (market(symbol="NOPE"), 422, 40010001),
    "lower-case symbol": (market(symbol="aapl"), 422, 40010001),
    "limit without limit_price": ({**limit(), "limit_price": None}, 422, 40010001),
    "stop without stop_price": (market(type="stop"), 422, 40010001),
    "stop_limit without limit_price": (market(type="stop_limit", stop_price="200"), 422, 40010001),
    "market with limit_price": (market(limit_price="150"), 422, 40010001),
    "limit with stop_price": (limit(stop_price="140"), 422, 40010001),
    "negative limit_price": (limit(price="-1"), 422, 40010001),
    "sub-penny limit_price": (limit(price="150.123"), 422, 42210000),
    "qty and notional": (market(notional="100"), 422, 40010001),
    "notional": ({k: v for k, v in market(notional="100").items() if k != "qty"}, 422, 40010001),
    "trailing_stop with both trails": (
        market(type="trailing_stop", trail_percent="1", trail_price="1"),
        422,
        40010001,
    ),
    "trail_price on a market order": (market(trail_price="1"), 422, 40010001),
    "bracket without stop_loss": (market(order_class="bracket", take_profit={"limit_price": "300"}), 422, 40010001),
    "bracket stop entry": (
        market(
            type="stop",
            stop_price="300",
            order_class="bracket",
            take_profit={"limit_price": "400"},
            stop_loss={"stop_price": "250"},
        ),
        422,
        40010001,
    ),
    "take_profit on a simple order": (market(take_profit={"limit_price": "300"}), 422, 40010001),
    "mleg": (market(order_class="mleg"), 422, 40010001),
    "extended hours market": (market(extended_hours=True), 422, 40010001),
    "client_order_id too long": (market(client_order_id="x" * 49), 422, 40010001),
    "opg in session": (market(time_in_force="opg"), 422, 42210000),
    "fraction of a non-fractionable asset": (market(symbol="AMC", qty="0.5"), 422, 40010001),
    "non-tradable asset": (market(symbol="SIVB", qty="1"), 422, 40010001),
    "insufficient buying power": (market(qty="10000"), 403, 40310000),
    "short sale of a non-shortable asset": (market(symbol="GME", side="sell"), 403, 40310000),
}


class TestBadInput:
    @pytest.mark.parametrize(("body", "status", "code"), BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
    async def test_refused_order_gets_alpacas_error_and_changes_nothing(
        self, alpaca_sim: SimServer, body: Any, status: int, code: int
    ) -> None:
        before = _state_without_requests(alpaca_sim)
        async with api(alpaca_sim) as http:
            answer = await http.post("/v2/orders", json=body)

        error = answer.json()
        assert (answer.status_code, error["code"]) == (status, code)
        assert isinstance(error["message"], str)
        assert error["message"]
        assert _state_without_requests(alpaca_sim) == before

    @pytest.mark.parametrize(
        "body", [b"{not json", b"[1, 2]", b"", b'"AAPL"'], ids=["broken", "list", "empty", "string"]
    )
    async def test_a_body_that_is_not_a_json_object_gets_400(self, alpaca_sim: SimServer, body: bytes) -> None:
        async with api(alpaca_sim) as http:
            answer = await http.post("/v2/orders", content=body, headers={"content-type": "application/json"})

        assert (answer.status_code, answer.json()["code"]) == (400, 40010000)
        assert alpaca_sim.state()["orders"] == 0

    async def test_insufficient_buying_power_tells_buying_power_and_cost(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            answer = await http.post("/v2/orders", json=limit(qty="2000", price="150"))

        assert answer.json() == {
            "code": 40310000,
            "message": "insufficient buying power",
            "buying_power": "200000",
            "cost_basis": "300000",
        }

    async def test_a_second_order_with_the_same_client_order_id_is_refused(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            first = await http.post("/v2/orders", json=limit(client_order_id="dup"))
            second = await http.post("/v2/orders", json=limit(client_order_id="dup"))

        assert (first.status_code, second.status_code, second.json()["code"]) == (200, 422, 40010001)
        assert alpaca_sim.state()["orders"] == 1

    async def test_unknown_or_malformed_order_ids(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            unknown = await http.get(f"/v2/orders/{UNKNOWN_ID}")
            malformed = await http.get("/v2/orders/not-a-uuid")
            cancel = await http.delete(f"/v2/orders/{UNKNOWN_ID}")
            replace = await http.patch(f"/v2/orders/{UNKNOWN_ID}", json={"qty": "1"})
            by_client = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "nobody"})

        assert (unknown.status_code, unknown.json()) == (404, {"code": 40410000, "message": "order not found"})
        assert (malformed.status_code, malformed.json()["code"]) == (422, 40010001)
        assert [a.status_code for a in (cancel, replace, by_client)] == [404, 404, 404]

    async def test_refused_replacements_change_nothing(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            resting = (await http.post("/v2/orders", json=limit())).json()
            filled = (await http.post("/v2/orders", json=market(qty="1"))).json()
            before = _state_without_requests(alpaca_sim)
            answers = [
                await http.patch(f"/v2/orders/{resting['id']}", json={"qty": "0"}),
                await http.patch(f"/v2/orders/{resting['id']}", json={"limit_price": "150.001"}),
                await http.patch(f"/v2/orders/{resting['id']}", json={"stop_price": "140"}),
                await http.patch(f"/v2/orders/{resting['id']}", json={"qty": "100000"}),
                await http.patch(f"/v2/orders/{filled['id']}", json={"qty": "2"}),
                await http.patch(f"/v2/orders/{resting['id']}", content=b"{", headers={"content-type": "x"}),
            ]
            still = (await http.get(f"/v2/orders/{resting['id']}")).json()

        assert [(a.status_code, a.json()["code"]) for a in answers] == [
            (422, 40010001),
            (422, 42210000),
            (422, 40010001),
            (403, 40310000),
            (422, 42210000),
            (400, 40010000),
        ]
        assert (still["status"], still["qty"]) == ("new", "5")
        assert _state_without_requests(alpaca_sim) == before

    @pytest.mark.parametrize(
        "body",
        [{}, {"qty": "5", "limit_price": "150"}, {"time_in_force": "gtc", "client_order_id": "only-the-id"}],
    )
    async def test_a_replace_that_changes_nothing_is_refused_with_403(
        self, alpaca_sim: SimServer, body: dict[str, Any]
    ) -> None:
        async with api(alpaca_sim) as http:
            resting = (await http.post("/v2/orders", json=limit())).json()
            before = _state_without_requests(alpaca_sim)
            answer = await http.patch(f"/v2/orders/{resting['id']}", json=body)

        assert (answer.status_code, answer.json()) == (
            403,
            {"code": 40310000, "message": "order parameters are not changed"},
        )
        assert _state_without_requests(alpaca_sim) == before

    async def test_a_held_leg_is_replaced_held_and_a_replace_of_it_that_changes_nothing_is_refused(
        self, alpaca_sim: SimServer
    ) -> None:
        """A bracket's legs wait `held` for a limit entry at 150 (AAPL is at 190); Alpaca replaces a
        held leg (it refuses a replace only in accepted, pending_new, pending_cancel, pending_replace)."""
        bracket = limit(order_class="bracket", take_profit={"limit_price": "160"}, stop_loss={"stop_price": "140"})
        async with api(alpaca_sim) as http:
            parent = (await http.post("/v2/orders", json=bracket)).json()
            stop_id = next(leg["id"] for leg in parent["legs"] if leg["type"] == "stop")
            same = await http.patch(f"/v2/orders/{stop_id}", json={"stop_price": "140"})
            moved = await http.patch(f"/v2/orders/{stop_id}", json={"stop_price": "138.5"})
            old = (await http.get(f"/v2/orders/{stop_id}")).json()

        unchanged = {"code": 40310000, "message": "order parameters are not changed"}
        assert (same.status_code, same.json()) == (403, unchanged)
        assert moved.status_code == 200, moved.json()
        new = moved.json()
        assert (new["status"], new["replaces"], new["stop_price"]) == ("held", stop_id, "138.5")
        assert (old["status"], old["replaced_by"]) == ("replaced", new["id"])

    async def test_a_leg_read_alone_listed_or_streamed_shows_its_parents_class(self, alpaca_sim: SimServer) -> None:
        """Alpaca's Order object of a leg names its group's class, as in its parent's `legs` (payloads
        recorded from Alpaca's `/v2/orders` show a bracket's legs with `"order_class": "bracket"`)."""
        bracket = limit(order_class="bracket", take_profit={"limit_price": "160"}, stop_loss={"stop_price": "140"})
        oco = limit(side="sell", qty="10", order_class="oco", stop_loss={"stop_price": "180"})
        oco = {**{k: v for k, v in oco.items() if k != "limit_price"}, "take_profit": {"limit_price": "200"}}
        async with api(alpaca_sim) as http, trade_updates(alpaca_sim) as ws:
            parent = (await http.post("/v2/orders", json=bracket)).json()
            take_profit_id, stop_id = (leg["id"] for leg in parent["legs"])
            moved = (await http.patch(f"/v2/orders/{stop_id}", json={"stop_price": "138.5"})).json()
            await http.post("/v2/orders", json=market())
            await updates(ws, 5)  # the bracket's new; the replace; the buy's new and fill
            exits = (await http.post("/v2/orders", json=oco)).json()
            (oco_stop,) = exits["legs"]
            streamed = await updates(ws, 2)  # the OCO's new, its stop-loss's held
            read = [(await http.get(f"/v2/orders/{i}")).json() for i in (take_profit_id, moved["id"], oco_stop["id"])]
            listed = (await http.get("/v2/orders", params={"status": "all"})).json()

        assert [o["order_class"] for o in read] == ["bracket", "bracket", "oco"]
        assert moved["order_class"] == "bracket"
        assert [(u["event"], u["order"]["order_class"]) for u in streamed] == [("new", "oco"), ("held", "oco")]
        classes = {o["id"]: o["order_class"] for o in listed}
        assert (classes[take_profit_id], classes[stop_id], classes[oco_stop["id"]]) == ("bracket", "bracket", "oco")

    async def test_a_nested_read_shows_a_replaced_legs_replacement_in_its_place(self, alpaca_sim: SimServer) -> None:
        """The replacement takes the leg's place in its group: the parent's `legs` list it, not the old leg."""
        bracket = limit(order_class="bracket", take_profit={"limit_price": "160"}, stop_loss={"stop_price": "140"})
        async with api(alpaca_sim) as http:
            parent = (await http.post("/v2/orders", json=bracket)).json()
            take_profit_id, stop_id = (leg["id"] for leg in parent["legs"])
            moved = (await http.patch(f"/v2/orders/{stop_id}", json={"stop_price": "138.5"})).json()
            again = (await http.patch(f"/v2/orders/{moved['id']}", json={"stop_price": "138"})).json()
            nested = (await http.get(f"/v2/orders/{parent['id']}", params={"nested": "true"})).json()
            listed = (await http.get("/v2/orders", params={"status": "all", "nested": "true"})).json()

        assert [(leg["id"], leg["status"]) for leg in nested["legs"]] == [
            (take_profit_id, "held"),
            (again["id"], "held"),
        ]
        assert nested["legs"][1]["stop_price"] == "138"
        (shown,) = [o for o in listed if o["id"] == parent["id"]]
        assert [leg["id"] for leg in shown["legs"]] == [take_profit_id, again["id"]]

    async def test_position_refusals(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            none = await http.get("/v2/positions/MSFT")
            unknown = await http.delete("/v2/positions/NOPE")
            await http.post("/v2/orders", json=market(qty="4"))
            before = _state_without_requests(alpaca_sim)
            both = await http.delete("/v2/positions/AAPL", params={"qty": "1", "percentage": "50"})
            too_many = await http.delete("/v2/positions/AAPL", params={"qty": "5"})
            percent = await http.delete("/v2/positions/AAPL", params={"percentage": "101"})

        assert (none.status_code, none.json()) == (404, {"code": 40410000, "message": "position does not exist"})
        assert unknown.status_code == 404
        assert [(a.status_code, a.json()["code"]) for a in (both, too_many, percent)] == [
            (422, 40010001),
            (403, 40310000),
            (422, 40010001),
        ]
        assert set(too_many.json()) >= {"available", "existing_qty", "held_for_orders", "symbol"}
        assert _state_without_requests(alpaca_sim) == before

    async def test_unknown_endpoint_and_method_answer_in_alpacas_shape(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            unknown = await http.get("/v2/nothing-here")
            wrong_method = await http.put("/v2/orders")

        assert (unknown.status_code, unknown.json()["code"]) == (404, 40410000)
        assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, 40510000)


class TestRateLimit:
    async def test_every_answer_carries_the_headers_and_the_limit_answers_429(self, alpaca_sim_factory: Any) -> None:
        sim = alpaca_sim_factory(rate_limit=3)
        async with api(sim) as http:
            answers = [await http.get("/v2/account") for _ in range(3)]
            refused = await http.post("/v2/orders", json=market())
            wrong_key = await http.get("/v2/account", headers={"APCA-API-KEY-ID": "other"})
            control = await http.get("/_sim/state")

        assert [a.headers["X-Ratelimit-Remaining"] for a in answers] == ["2", "1", "0"]
        assert {a.headers["X-Ratelimit-Limit"] for a in answers} == {"3"}
        assert int(answers[0].headers["X-Ratelimit-Reset"]) > 0
        assert (refused.status_code, refused.json()) == (429, {"code": 42910000, "message": "rate limit exceeded"})
        assert refused.headers["X-Ratelimit-Remaining"] == "0"
        assert control.json()["orders"] == 0
        assert (wrong_key.status_code, wrong_key.headers["X-Ratelimit-Remaining"]) == (401, "2")
        assert "X-Ratelimit-Limit" not in control.headers

    async def test_reset_opens_a_new_window(self, alpaca_sim_factory: Any) -> None:
        sim = alpaca_sim_factory(rate_limit=1)
        async with api(sim) as http:
            await http.get("/v2/clock")
            limited = await http.get("/v2/clock")
            sim.reset()
            again = await http.get("/v2/clock")

        assert (limited.status_code, again.status_code) == (429, 200)


class TestStreamHandshake:
    async def test_nothing_is_sent_before_the_authorization_reply(self, alpaca_sim: SimServer) -> None:
        async with connect(alpaca_sim.stream_url, open_timeout=WAIT) as ws:
            silent = await nothing_within(ws, 0.2)
            reply = await authenticate(ws)
            listening = await listen(ws)

        assert silent
        assert reply == {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}
        assert listening == {"stream": "listening", "data": {"streams": ["trade_updates"]}}

    async def test_listen_before_authenticating_is_unauthorized(self, alpaca_sim: SimServer) -> None:
        async with connect(alpaca_sim.stream_url, open_timeout=WAIT) as ws:
            reply = await listen(ws)

        assert reply == {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}

    async def test_wrong_keys_are_unauthorized_and_the_connection_closed(self, alpaca_sim: SimServer) -> None:
        async with connect(alpaca_sim.stream_url, open_timeout=WAIT) as ws:
            reply = await authenticate(ws, secret="wrong")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WAIT)

        assert reply["data"] == {"status": "unauthorized", "action": "authenticate"}
        assert alpaca_sim.state()["stream_connections"] == 0

    async def test_the_newer_auth_form_and_a_trailing_slash_are_accepted(self, alpaca_sim: SimServer) -> None:
        async with connect(alpaca_sim.stream_url + "/", open_timeout=WAIT) as ws:
            await ws.send(json.dumps({"action": "auth", "key": "test", "secret": "test"}))
            reply = await recv(ws)

        assert reply["data"] == {"status": "authorized", "action": "auth"}

    async def test_updates_are_binary_frames_with_timestamp_and_the_whole_order(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=market(qty="10"))).json()
            new, fill = await updates(ws, 2)

        assert (new["event"], fill["event"]) == ("new", "fill")
        assert set(new) == {"event", "timestamp", "order"}
        assert set(fill) == {"event", "timestamp", "order", "execution_id", "price", "qty", "position_qty"}
        assert (fill["price"], fill["qty"], fill["position_qty"]) == ("190", "10", "10")
        assert set(new["order"]) == set(fill["order"]) == ORDER_MEMBERS
        assert {new["order"]["id"], fill["order"]["id"]} == {placed["id"]}
        assert (fill["order"]["status"], fill["order"]["filled_qty"]) == ("filled", "10")
        assert all(TIMESTAMP.match(u["timestamp"]) for u in (new, fill))

    async def test_events_follow_alpacas_order_for_cancel_replace_and_expiry(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            first = (await http.post("/v2/orders", json=limit(time_in_force="day"))).json()
            second = (await http.patch(f"/v2/orders/{first['id']}", json={"limit_price": "151"})).json()
            await http.delete(f"/v2/orders/{second['id']}")
            third = (await http.post("/v2/orders", json=limit(time_in_force="day"))).json()
            alpaca_sim.set_market(is_open=False)
            seen = [(u["event"], u["order"]["id"]) for u in await updates(ws, 8)]

        assert seen == [
            ("new", first["id"]),
            ("pending_replace", first["id"]),
            ("replaced", first["id"]),
            ("new", second["id"]),
            ("pending_cancel", second["id"]),
            ("canceled", second["id"]),
            ("new", third["id"]),
            ("expired", third["id"]),
        ]

    async def test_a_position_reducing_fill_reports_the_position_after_it(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market(qty="10"))
            await http.delete("/v2/positions/AAPL", params={"qty": "4"})
            fills = [u for u in await updates(ws, 4) if u["event"] == "fill"]

        assert [f["position_qty"] for f in fills] == ["10", "6"]

    async def test_listening_to_nothing_stops_the_updates(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            reply = await listen(ws, ["nothing-known"])
            await http.post("/v2/orders", json=market())
            silent = await nothing_within(ws, 0.2)

        assert (reply["data"], silent) == ({"streams": []}, True)

    async def test_connections_sharing_a_key_each_get_every_update(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as first, trade_updates(alpaca_sim) as second, api(alpaca_sim) as http:
            connections = alpaca_sim.state()["stream_connections"]
            await http.post("/v2/orders", json=market())
            got = [[u["event"] for u in await updates(ws, 2)] for ws in (first, second)]

        assert (connections, got) == (2, [["new", "fill"], ["new", "fill"]])

    async def test_the_drop_control_closes_the_stream_with_1011(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws:
            dropped = alpaca_sim.drop_stream()
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT)

        assert dropped["closed"] == 1
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011


class TestControls:
    async def test_a_price_move_executes_the_resting_orders_it_crosses(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            await http.post("/v2/orders", json=limit(qty="5", price="189"))
            alpaca_sim.set_price("AAPL", "188.50")
            events = [(u["event"], u.get("price")) for u in await updates(ws, 2)]

        assert events == [("new", None), ("fill", "188.5")]
        assert alpaca_sim.state()["positions"] == {"AAPL": "5"}

    async def test_orders_sent_while_closed_are_accepted_then_routed_at_the_open(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_market(is_open=False)
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=market(qty="1"))).json()
            clock = (await http.get("/v2/clock")).json()
            alpaca_sim.set_market(is_open=True)
            events = [u["event"] for u in await updates(ws, 3)]

        assert (placed["status"], clock["is_open"]) == ("accepted", False)
        assert events == ["accepted", "new", "fill"]

    async def test_reset_takes_cash_and_step_moves_prices(self, alpaca_sim: SimServer) -> None:
        reset = alpaca_sim.reset(cash="5000", seed=7)
        stepped = alpaca_sim.step(3)

        assert (reset["cash"], alpaca_sim.state()["cash"]) == ("5000", "5000")
        assert stepped["prices"]["AAPL"] != "190"

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("price", {"symbol": "NOPE", "price": "1"}),
            ("price", {"symbol": "AAPL", "price": "0"}),
            ("market", {"open": "yes"}),
            ("step", {"n": 0}),
            ("reset", {"cash": "-1"}),
            ("faults", {"rules": [{"kind": "no_such_rule"}]}),
        ],
    )
    async def test_bad_controls_get_an_error_body(self, alpaca_sim: SimServer, path: str, body: dict[str, Any]) -> None:
        async with httpx.AsyncClient(base_url=alpaca_sim.url, timeout=WAIT, verify=False) as http:
            answer = await http.post(f"/_sim/{path}", json=body)

        assert answer.status_code in (404, 422)
        assert set(answer.json()) == {"code", "message"}
