"""`GET /_sim/traffic`: what benchmarks read at the simulator (requests per route, when each submission
arrived, when each fill left on the stream, when the rate-limit windows opened)."""

from __future__ import annotations

import time
from collections.abc import Callable

from apps.alpaca_sim import SimServer
from tests.contract.alpaca_sim_support import api, limit, market, trade_updates, updates


class TestTraffic:
    async def test_every_request_counts_under_its_route_refused_ones_too(
        self, alpaca_sim_factory: Callable[..., SimServer]
    ) -> None:
        sim = alpaca_sim_factory(rate_limit=5)  # the data request counts against a limit of its own
        async with api(sim) as http:
            placed = (await http.post("/v2/orders", json=limit())).json()
            await http.get(f"/v2/orders/{placed['id']}")
            await http.patch(f"/v2/orders/{placed['id']}", json={"limit_price": "151"})
            await http.get("/v2/account", headers={"APCA-API-SECRET-KEY": "wrong"})
            await http.get("/v2/nothing")
            await http.get("/v2/stocks/AAPL/quotes/latest")
            limited = await http.get("/v2/account")
            await http.get("/_sim/state")
        traffic = sim.traffic()

        assert limited.status_code == 429
        assert traffic["requests"] == {
            "GET /v2/account": 2,
            "GET /v2/orders/{order_id}": 1,
            "GET /v2/stocks/{symbol}/quotes/latest": 1,
            "PATCH /v2/orders/{order_id}": 1,
            "POST /v2/orders": 1,
            "unknown": 1,
        }
        assert traffic["rate_limited"] == 1
        assert sim.state()["requests"] == sum(traffic["requests"].values())

    async def test_a_submission_is_timed_when_it_arrived_and_a_repeat_keeps_the_first(
        self, alpaca_sim: SimServer
    ) -> None:
        async with api(alpaca_sim) as http:
            before = time.time()
            await http.post("/v2/orders", json=market(client_order_id="first"))
            between = time.time()
            repeated = await http.post("/v2/orders", json=market(client_order_id="first"))
            await http.post("/v2/orders", json=market(client_order_id="second"))
            after = time.time()
        submissions = alpaca_sim.traffic()["submissions"]

        assert repeated.status_code == 422
        assert set(submissions) == {"first", "second"}
        assert before <= submissions["first"] <= between <= submissions["second"] <= after

    async def test_a_fill_is_timed_when_its_update_left_on_the_stream(self, alpaca_sim: SimServer) -> None:
        async with api(alpaca_sim) as http:
            await http.post("/v2/orders", json=market(client_order_id="unheard"))
            async with trade_updates(alpaca_sim) as ws:
                sent = time.time()
                await http.post("/v2/orders", json=market(client_order_id="heard"))
                fill = (await updates(ws, 2))[1]
                received = time.time()
        traffic = alpaca_sim.traffic()

        assert fill["event"] == "fill"
        assert list(traffic["fills_sent"]) == [fill["execution_id"]]  # nobody listened to the first one's
        assert traffic["submissions"]["heard"] <= traffic["fills_sent"][fill["execution_id"]]
        assert sent <= traffic["fills_sent"][fill["execution_id"]] <= received

    async def test_the_rate_limit_windows_opened_are_listed_and_a_reset_forgets_everything(
        self, alpaca_sim_factory: Callable[..., SimServer]
    ) -> None:
        sim = alpaca_sim_factory(rate_limit=5)
        before = time.time()
        async with api(sim) as http:
            await http.post("/v2/orders", json=market())
            await http.get("/v2/clock")
        windows = sim.traffic()["rate_limit_windows"]
        sim.reset()
        after_reset = sim.traffic()

        assert len(windows) == 1
        assert before <= windows[0] <= time.time()
        assert after_reset == {
            "ok": True,
            "requests": {},
            "rate_limited": 0,
            "submissions": {},
            "fills_sent": {},
            "rate_limit_windows": [],
        }
