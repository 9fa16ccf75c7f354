"""The kill switch over HTTP: cancel every open order, halt trading (and end the halt), the console page."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import AsyncTestClient

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.service.app import create_app
from tests.service.conftest import container_for, settings_with
from trading_core.clock import SystemClock

Client = AsyncTestClient[Any]


async def submit(api: Client, **order: Any) -> Any:
    return await api.post("/api/v1/orders", json=order)


async def resting_buy(api: Client, symbol: str = "AAPL") -> str:
    answer = await submit(api, symbol=symbol, side="buy", quantity=2, type="limit", limitPrice=100, timeInForce="gtc")
    assert answer.status_code == 201, answer.text
    return str(answer.json()["orderId"])


async def held(api: Client, symbol: str) -> bool:
    for _ in range(500):  # the fill is applied by the engine's update task
        if (await api.get(f"/api/v1/positions/{symbol}")).status_code == 200:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_cancel_all_cancels_every_open_order(api: Client) -> None:
    ids = {await resting_buy(api, "AAPL"), await resting_buy(api, "MSFT")}

    answer = await api.delete("/api/v1/orders")

    assert answer.status_code == 200
    body = answer.json()
    assert body["cancelledCount"] == 2
    assert set(body["orderIds"]) == ids
    assert "failed" not in body
    assert (await api.get("/api/v1/orders?status=open")).json()["orders"] == []
    for order_id in ids:
        assert (await api.get(f"/api/v1/orders/{order_id}")).json()["status"] == "cancelled"


async def test_cancel_all_with_nothing_open_cancels_nothing(api: Client) -> None:
    answer = await api.delete("/api/v1/orders")

    assert (answer.status_code, answer.json()) == (200, {"cancelledCount": 0, "orderIds": []})


async def test_a_halt_refuses_new_exposure_until_the_reset(api: Client) -> None:
    assert (await submit(api, symbol="AAPL", side="buy", quantity=5, type="market")).status_code == 201
    assert await held(api, "AAPL")

    halted = await api.post("/api/v1/risk/halt", json={"by": "ops@example.com", "reason": "news"})
    refused = await submit(api, symbol="MSFT", side="buy", quantity=1, type="market")
    reducing = await submit(api, symbol="AAPL", side="sell", quantity=5, type="market")
    reset = await api.post("/api/v1/risk/reset", json={"by": "ops@example.com"})
    taken = await submit(api, symbol="MSFT", side="buy", quantity=1, type="market")

    assert halted.status_code == 200
    assert {k: halted.json()[k] for k in ("tradingState", "reason", "changedBy")} == {
        "tradingState": "halted",
        "reason": "news",
        "changedBy": "ops@example.com",
    }
    assert (refused.status_code, refused.json()["code"]) == (422, "TRADING_HALTED")
    assert refused.json()["message"] == "trading is halted: only reducing orders pass"
    assert reducing.status_code == 201
    assert (reset.status_code, reset.json()["tradingState"]) == (200, "active")
    assert taken.status_code == 201


async def test_a_halt_without_a_body_names_the_caller(api: Client) -> None:
    answer = await api.post("/api/v1/risk/halt")

    assert answer.status_code == 200
    assert answer.json()["reason"] == "halted by hand"
    assert answer.json()["changedBy"].startswith("api@")


async def test_a_halt_with_an_unknown_field_is_refused_and_changes_nothing(api: Client) -> None:
    answer = await api.post("/api/v1/risk/halt", json={"who": "ops"})

    assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_REQUEST")
    assert (await api.get("/api/v1/risk")).json()["tradingState"] == "active"


async def test_the_console_page_is_public_and_its_calls_are_not() -> None:
    settings = settings_with(TRADING_API_TOKEN="secret")
    app = create_app(container_for(settings, PaperExchange(SystemClock()), InMemoryEventBus()))
    async with AsyncTestClient(app) as client:
        page = await client.get("/")
        script = await client.get("/console-assets/console.js")
        styles = await client.get("/console-assets/console.css")
        halt = await client.post("/api/v1/risk/halt")
        cancel_all = await client.delete("/api/v1/orders")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/console-assets/console.js"' in page.text
    assert "http" not in page.text.replace("http://www.w3.org", "")  # nothing from elsewhere
    assert (script.status_code, styles.status_code) == (200, 200)
    assert (await client.get("/console-assets/index.html")).status_code == 200  # only the page's own files
    assert (await client.get("/console-assets/../console_page.py")).status_code == 404
    assert "Authorization" in script.text
    assert (halt.status_code, cancel_all.status_code) == (401, 401)


async def test_the_console_is_not_in_the_api_document(api: Client) -> None:
    paths = (await api.get("/schema/openapi.json")).json()["paths"]

    assert "/" not in paths
    assert paths["/api/v1/events/stream"]["get"]["responses"]["200"]["content"].keys() == {"text/event-stream"}
    assert {"/api/v1/risk/halt", "/api/v1/orders"} <= paths.keys()
    assert "delete" in paths["/api/v1/orders"]
