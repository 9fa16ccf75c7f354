"""Each fault rule of docs/alpaca-sim.md does what it says, and only when, where and as often as told."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from apps.alpaca_sim import SimServer
from tests.contract.alpaca_sim_support import (
    WAIT,
    api,
    limit,
    market,
    nothing_within,
    trade_updates,
    updates,
)


def events(found: list[dict[str, Any]]) -> list[str]:
    return [u["event"] for u in found]


class TestStatusRules:
    @pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
    async def test_status_answers_alpacas_error_and_does_nothing(self, alpaca_sim: SimServer, status: int) -> None:
        alpaca_sim.set_faults({"kind": "status", "status": status, "match": "POST /v2/orders", "count": 1})
        async with api(alpaca_sim) as http:
            faulted = await http.post("/v2/orders", json=market())
            unmatched = await http.get("/v2/account")
            after = await http.post("/v2/orders", json=market())

        assert (faulted.status_code, faulted.json()["code"]) == (status, status * 100_000 + 10_000)
        assert faulted.headers["content-type"].startswith("application/json")
        assert (unmatched.status_code, after.status_code) == (200, 200)
        assert alpaca_sim.state()["orders"] == 1
        assert [r["fired"] for r in alpaca_sim.faults()] == [1]

    async def test_a_share_of_requests_from_a_seeded_generator(self, alpaca_sim: SimServer) -> None:
        async def statuses() -> list[int]:
            alpaca_sim.reset(seed=42)
            alpaca_sim.set_faults({"kind": "status", "status": 500, "share": 0.5})
            async with api(alpaca_sim) as http:
                return [(await http.get("/v2/clock")).status_code for _ in range(40)]

        first = await statuses()
        second = await statuses()

        assert 5 < first.count(500) < 35
        assert first == second

    async def test_share_zero_never_fires_and_a_bare_path_matches_every_method(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults(
            {"kind": "status", "status": 500, "share": 0},
            {"kind": "status", "status": 503, "match": "/v2/positions"},
        )
        async with api(alpaca_sim) as http:
            clock = await http.get("/v2/clock")
            listed = await http.get("/v2/positions")
            closed = await http.delete("/v2/positions")
            control = await http.get("/_sim/state")

        assert [a.status_code for a in (clock, listed, closed, control)] == [200, 503, 503, 200]

    async def test_latency_delays_the_answer(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "latency", "ms": 200, "match": "GET /v2/account"})
        async with api(alpaca_sim) as http:
            started = time.monotonic()
            slow = await http.get("/v2/account")
            slow_took = time.monotonic() - started
            started = time.monotonic()
            await http.get("/v2/clock")
            fast_took = time.monotonic() - started

        assert slow.status_code == 200
        assert slow_took >= 0.2 > fast_took

    async def test_a_504_after_the_order_was_in_fact_accepted(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "accept_then_status", "status": 504, "match": "POST /v2/orders", "count": 1})
        async with api(alpaca_sim) as http:
            answer = await http.post("/v2/orders", json=market(client_order_id="retry-me"))
            found = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "retry-me"})
            retried = await http.post("/v2/orders", json=market(client_order_id="retry-me"))

        assert (answer.status_code, answer.json()["code"]) == (504, 50410000)
        assert (found.status_code, found.json()["status"]) == (200, "filled")
        assert (retried.status_code, retried.json()["code"]) == (422, 40010001)
        assert alpaca_sim.state()["positions"] == {"AAPL": "10"}

    async def test_accept_then_drop_closes_the_connection_without_an_answer(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "accept_then_drop", "match": "POST /v2/orders", "count": 1})
        async with api(alpaca_sim) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post("/v2/orders", json=market(client_order_id="dropped"))
            found = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "dropped"})

        assert found.status_code == 200
        assert alpaca_sim.state()["orders"] == 1


class TestAcceptLater:
    """A gateway timeout in front of Alpaca: the answer says failure, the order arrives afterwards."""

    async def test_a_504_now_and_the_order_at_the_broker_after_the_delay(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "accept_later", "status": 504, "ms": 400, "match": "POST /v2/orders"})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            answer = await http.post("/v2/orders", json=market(client_order_id="late"))
            before = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "late"})
            silent = await nothing_within(ws, 0.2)
            arrived = await updates(ws, 2)
            after = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "late"})

        assert (answer.status_code, answer.json()["code"]) == (504, 50410000)
        assert (before.status_code, silent) == (404, True)
        assert events(arrived) == ["new", "fill"]
        assert (after.status_code, after.json()["status"]) == (200, "filled")
        assert alpaca_sim.state()["positions"] == {"AAPL": "10"}

    async def test_a_dropped_connection_now_and_the_order_after_the_delay(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "accept_later", "drop": True, "ms": 300, "match": "POST /v2/orders"})
        async with api(alpaca_sim) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post("/v2/orders", json=market(client_order_id="dropped-late"))
            orders_before = alpaca_sim.state()["orders"]
            await asyncio.sleep(0.45)
            found = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "dropped-late"})

        assert orders_before == 0
        assert (found.status_code, found.json()["status"]) == (200, "filled")

    async def test_a_replacement_arrives_after_the_delay(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=limit(qty="5", price="150"))).json()
            alpaca_sim.set_faults({"kind": "accept_later", "status": 502, "ms": 300, "match": "PATCH /v2/orders"})
            patch = await http.patch(f"/v2/orders/{placed['id']}", json={"limit_price": "149", "client_order_id": "r"})
            old_before = (await http.get(f"/v2/orders/{placed['id']}")).json()
            new_before = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "r"})
            await asyncio.sleep(0.45)
            old_after = (await http.get(f"/v2/orders/{placed['id']}")).json()
            new_after = (await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "r"})).json()

        assert patch.status_code == 502
        assert (old_before["status"], new_before.status_code) == ("new", 404)
        assert (old_after["status"], old_after["replaced_by"]) == ("replaced", new_after["id"])
        assert (new_after["limit_price"], new_after["replaces"]) == ("149", placed["id"])

    async def test_a_reset_before_the_delay_cancels_the_late_arrival(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "accept_later", "status": 504, "ms": 200})
        async with api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market())
            alpaca_sim.reset()
            await asyncio.sleep(0.3)

        assert alpaca_sim.state()["orders"] == 0


class TestPendingNew:
    async def test_the_order_stays_pending_new_then_is_routed_and_executes(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "pending_new", "ms": 400})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            answer = (await http.post("/v2/orders", json=market())).json()
            first = await updates(ws, 1)
            pending = (await http.get(f"/v2/orders/{answer['id']}")).json()
            position = await http.get("/v2/positions/AAPL")
            later = await updates(ws, 2)
            done = (await http.get(f"/v2/orders/{answer['id']}")).json()

        assert (answer["status"], events(first), pending["status"], pending["filled_qty"]) == (
            "pending_new",
            ["pending_new"],
            "pending_new",
            "0",
        )
        assert position.status_code == 404
        assert events(later) == ["new", "fill"]
        assert (done["status"], done["filled_qty"]) == ("filled", "10")

    async def test_a_pending_order_can_be_cancelled_and_then_never_routes(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "pending_new", "ms": 200})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            answer = (await http.post("/v2/orders", json=market())).json()
            replace = await http.patch(f"/v2/orders/{answer['id']}", json={"qty": "3"})
            cancel = await http.delete(f"/v2/orders/{answer['id']}")
            sent = await updates(ws, 3)
            quiet = await nothing_within(ws, 0.35)

        assert (replace.status_code, cancel.status_code) == (422, 204)
        assert events(sent) == ["pending_new", "pending_cancel", "canceled"]
        assert quiet
        assert alpaca_sim.state()["positions"] == {}


class TestReplaceRace:
    async def test_the_old_order_fills_while_pending_replace(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=limit(qty="5", price="150"))).json()
            alpaca_sim.set_faults({"kind": "fill_on_replace", "ms": 300, "count": 1})
            patch = await http.patch(f"/v2/orders/{placed['id']}", json={"limit_price": "149", "client_order_id": "r"})
            pending = (await http.get(f"/v2/orders/{placed['id']}")).json()
            cancel = await http.delete(f"/v2/orders/{placed['id']}")
            sent = await updates(ws, 4)
            old = (await http.get(f"/v2/orders/{placed['id']}")).json()
            new = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "r"})
            by_id = await http.get(f"/v2/orders/{patch.json()['id']}")

        assert (patch.status_code, patch.json()["replaces"], patch.json()["client_order_id"]) == (
            200,
            placed["id"],
            "r",
        )
        assert (pending["status"], cancel.status_code) == ("pending_replace", 422)
        assert events(sent) == ["new", "pending_replace", "fill", "order_replace_rejected"]
        assert (sent[2]["qty"], sent[2]["price"], sent[3]["order"]["status"]) == ("5", "150", "filled")
        assert (old["status"], old["filled_qty"], old["replaced_by"]) == ("filled", "5", None)
        assert (new.status_code, by_id.status_code) == (404, 404)

    async def test_replace_rejected_keeps_the_old_order_working(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=limit(qty="5", price="150"))).json()
            alpaca_sim.set_faults({"kind": "replace_rejected", "match": "PATCH /v2/orders"})
            patch = await http.patch(f"/v2/orders/{placed['id']}", json={"qty": "7", "client_order_id": "r"})
            sent = await updates(ws, 3)
            old = (await http.get(f"/v2/orders/{placed['id']}")).json()
            new = await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "r"})
            cancel = await http.delete(f"/v2/orders/{placed['id']}")

        assert (patch.status_code, patch.json()["qty"]) == (200, "7")
        assert events(sent) == ["new", "pending_replace", "order_replace_rejected"]
        assert sent[2]["order"]["status"] == "new"
        assert (old["status"], old["qty"], old["filled_qty"]) == ("new", "5", "0")
        assert (new.status_code, cancel.status_code) == (404, 204)

    async def test_an_order_that_cannot_be_replaced_is_refused_and_the_rule_not_spent(
        self, alpaca_sim: SimServer
    ) -> None:
        alpaca_sim.set_faults({"kind": "fill_on_replace"})
        async with api(alpaca_sim) as http:
            filled = (await http.post("/v2/orders", json=market())).json()
            answer = await http.patch(f"/v2/orders/{filled['id']}", json={"qty": "3"})

        assert (answer.status_code, answer.json()["code"]) == (422, 42210000)
        assert [r["fired"] for r in alpaca_sim.faults()] == [0]


class TestStreamRules:
    async def test_silent_stream_holds_updates_answers_pings_then_resumes(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            alpaca_sim.set_faults({"kind": "stream_silent", "seconds": 0.4})
            await http.post("/v2/orders", json=market())
            silent = await nothing_within(ws, 0.2)
            pong = await ws.ping()
            await asyncio.wait_for(pong, WAIT)
            held = await updates(ws, 2)

        assert silent
        assert events(held) == ["new", "fill"]

    async def test_drop_after_closes_the_connection_after_so_many_updates(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            alpaca_sim.set_faults({"kind": "stream_drop_after", "messages": 2, "count": 1})
            await http.post("/v2/orders", json=limit())
            await http.post("/v2/orders", json=market())
            sent = await updates(ws, 2)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), WAIT)

        assert events(sent) == ["new", "new"]
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
        assert alpaca_sim.state()["positions"] == {"AAPL": "10"}

    async def test_drop_updates_loses_those_events_for_good_on_a_live_connection(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "drop_updates", "events": ["fill"]})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=market())).json()
            sent = await updates(ws, 1)
            lost = await nothing_within(ws, 0.3)
            order = (await http.get(f"/v2/orders/{placed['id']}")).json()
            alpaca_sim.set_faults()
            await http.post("/v2/orders", json=market(qty="1"))
            still_up = await updates(ws, 2)

        assert (events(sent), lost) == (["new"], True)
        assert (order["status"], order["filled_qty"]) == ("filled", "10")
        assert events(still_up) == ["new", "fill"]

    async def test_drop_updates_by_share_and_count(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "drop_updates", "count": 1})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market())
            sent = await updates(ws, 1)
            quiet = await nothing_within(ws, 0.2)

        assert (events(sent), quiet) == (["fill"], True)
        assert [r["fired"] for r in alpaca_sim.faults()] == [1]

    async def test_stream_one_connection_lets_the_newest_close_the_older(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "stream_one_connection"})
        async with trade_updates(alpaca_sim) as first, trade_updates(alpaca_sim) as second, api(alpaca_sim) as http:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(first.recv(), WAIT)
            connections = alpaca_sim.state()["stream_connections"]
            await http.post("/v2/orders", json=market())
            got = events(await updates(second, 2))

        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "connection limit exceeded")
        assert (connections, got) == (1, ["new", "fill"])

    async def test_duplicate_updates_sends_each_update_twice(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "duplicate_updates"})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market())
            sent = await updates(ws, 4)

        assert events(sent) == ["new", "new", "fill", "fill"]
        assert sent[2] == sent[3]

    async def test_reorder_updates_reverses_each_window(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "reorder_updates", "window": 2})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market())
            sent = await updates(ws, 2)

        assert events(sent) == ["fill", "new"]

    async def test_a_window_not_yet_full_is_sent_in_order_when_the_rules_change(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "reorder_updates", "window": 3})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market())
            held = await nothing_within(ws, 0.2)
            alpaca_sim.set_faults()
            sent = await updates(ws, 2)

        assert held
        assert events(sent) == ["new", "fill"]


class TestExchangeRules:
    async def test_fill_on_cancel_fills_first_then_rejects_the_cancel(self, alpaca_sim: SimServer) -> None:
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=limit(qty="5", price="150"))).json()
            alpaca_sim.set_faults({"kind": "fill_on_cancel", "match": "DELETE /v2/orders"})
            cancel = await http.delete(f"/v2/orders/{placed['id']}")
            sent = await updates(ws, 3)
            order = (await http.get(f"/v2/orders/{placed['id']}")).json()

        assert cancel.status_code == 204
        assert events(sent) == ["new", "fill", "order_cancel_rejected"]
        assert (sent[1]["price"], sent[2]["order"]["status"]) == ("150", "filled")
        assert (order["status"], order["filled_qty"]) == ("filled", "5")

    async def test_fill_on_cancel_leaves_unknown_orders_unknown(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "fill_on_cancel"})
        async with api(alpaca_sim) as http:
            answer = await http.delete("/v2/orders/00000000-0000-4000-8000-000000000000")

        assert answer.status_code == 404
        assert [r["fired"] for r in alpaca_sim.faults()] == [0]

    async def test_status_lag_shows_the_previous_state_for_a_while(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "status_lag", "ms": 300})
        async with api(alpaca_sim) as http:
            placed = (await http.post("/v2/orders", json=market(client_order_id="lagging"))).json()
            early = (await http.get(f"/v2/orders/{placed['id']}")).json()
            early_list = (await http.get("/v2/orders", params={"status": "all"})).json()
            await asyncio.sleep(0.35)
            late = (await http.get("/v2/orders:by_client_order_id", params={"client_order_id": "lagging"})).json()

        assert (early["status"], early["filled_qty"], early_list[0]["status"]) == ("new", "0", "new")
        assert (late["status"], late["filled_qty"]) == ("filled", "10")

    async def test_partial_fills_in_chosen_sizes_then_the_rest(self, alpaca_sim: SimServer) -> None:
        alpaca_sim.set_faults({"kind": "partial_fills", "sizes": ["3", "2"], "count": 1})
        async with trade_updates(alpaca_sim) as ws, api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market(qty="10"))
            await http.post("/v2/orders", json=market(qty="1"))
            sent = await updates(ws, 6)

        assert events(sent) == ["new", "partial_fill", "partial_fill", "fill", "new", "fill"]
        assert [(u["qty"], u["position_qty"]) for u in sent[1:4]] == [("3", "3"), ("2", "5"), ("5", "10")]
        assert [u["order"]["filled_qty"] for u in sent[1:4]] == ["3", "5", "10"]
        assert sent[1]["order"]["status"] == "partially_filled"


class TestRuleBook:
    @pytest.mark.parametrize(
        "rule",
        [
            {"kind": "no_such_rule"},
            {"kind": "status", "status": 418},
            {"kind": "status"},
            {"kind": "latency", "ms": -1},
            {"kind": "reorder_updates", "window": 1},
            {"kind": "partial_fills", "sizes": []},
            {"kind": "partial_fills", "sizes": ["0"]},
            {"kind": "stream_silent", "seconds": 0},
            {"kind": "duplicate_updates", "share": 2},
            {"kind": "duplicate_updates", "count": -1},
            {"kind": "duplicate_updates", "window": 3},
            {"kind": "latency", "ms": 10, "match": "FETCH /v2"},
            {"kind": "accept_later", "ms": 10},
            {"kind": "accept_later", "ms": 10, "status": 504, "drop": True},
            {"kind": "accept_later", "status": 504},
            {"kind": "pending_new"},
            {"kind": "fill_on_replace", "ms": -1},
            {"kind": "drop_updates", "events": []},
            {"kind": "stream_one_connection", "ms": 1},
        ],
    )
    async def test_a_bad_rule_is_refused_and_the_rules_stay(self, alpaca_sim: SimServer, rule: dict[str, Any]) -> None:
        alpaca_sim.set_faults({"kind": "latency", "ms": 1})
        async with httpx.AsyncClient(base_url=alpaca_sim.url, timeout=WAIT, verify=False) as http:
            answer = await http.post("/_sim/faults", json={"rules": [rule]})

        assert (answer.status_code, answer.json()["code"]) == (422, 40010001)
        assert answer.json()["message"].startswith("rules[0]: ")
        assert [r["kind"] for r in alpaca_sim.faults()] == ["latency"]

    async def test_rules_are_listed_as_given_with_their_firings_and_cleared_by_reset(
        self, alpaca_sim: SimServer
    ) -> None:
        rule = {"kind": "status", "status": 503, "share": 1, "count": 2, "match": "GET /v2/clock"}
        alpaca_sim.set_faults(rule)
        async with api(alpaca_sim) as http:
            answers = [(await http.get("/v2/clock")).status_code for _ in range(3)]
        listed = alpaca_sim.faults()
        alpaca_sim.reset()

        assert answers == [503, 503, 200]
        assert listed == [{**rule, "fired": 2}]
        assert alpaca_sim.faults() == []
