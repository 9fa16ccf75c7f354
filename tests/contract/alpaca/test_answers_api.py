"""Answers that say what happened, through the API on the Alpaca adapter and the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.memory import InMemoryEventBus
from apps.alpaca_sim import SimServer
from apps.service.app import create_app
from tests.contract.alpaca.support import opened_broker
from tests.service.conftest import container_for, settings_with

Client = httpx.AsyncClient


@pytest.fixture
async def api(alpaca_sim: SimServer) -> AsyncIterator[tuple[Client, SimServer]]:
    """The service on the Alpaca adapter, in the test's own event loop (where the adapter was opened)."""
    async with opened_broker(alpaca_sim) as broker:
        container = container_for(settings_with(), broker, InMemoryEventBus())  # type: ignore[arg-type]
        app = create_app(container)
        await container.open()
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
                yield client, alpaca_sim
        finally:
            await container.close()


async def test_a_quote_read_refused_with_429s_says_nothing_was_placed_and_a_retry_is_safe(
    api: tuple[Client, SimServer],
) -> None:
    client, sim = api
    sim.set_faults({"kind": "status", "status": 429, "match": "GET /v2/stocks", "count": 1000})
    order = {"symbol": "NVDA", "side": "buy", "quantity": 1, "type": "market", "clientOrderId": "retry-me-1"}

    refused = await client.post("/api/v1/orders", json=order)

    body = refused.json()
    assert (refused.status_code, body["code"]) == (502, "BROKER_ERROR")
    assert "orderId" not in body
    assert body["details"]["placed"] is False
    assert "nothing was placed" in body["message"]
    assert "again is safe" in body["message"]
    assert (await client.get("/api/v1/orders?status=all")).json()["orders"] == []
    sim.set_faults()
    retried = await client.post("/api/v1/orders", json=order)
    assert retried.status_code in (201, 202), retried.text
    assert len((await client.get("/api/v1/orders?status=all")).json()["orders"]) == 1


async def test_a_cancel_the_broker_only_took_says_it_was_requested(api: tuple[Client, SimServer]) -> None:
    """Alpaca takes a cancel (204) and may fill the order before it cancels it."""
    client, sim = api
    limit = {"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "limit", "limitPrice": 100}
    placed = (await client.post("/api/v1/orders", json=limit)).json()
    sim.set_faults(  # the order fills as the cancel arrives, and the news reaches us only after the answer
        {"kind": "fill_on_cancel", "count": 1},
        {"kind": "stream_silent", "seconds": 1},
        {"kind": "status_lag", "ms": 1000},
    )

    answer = await client.delete(f"/api/v1/orders/{placed['orderId']}")

    body = answer.json()
    assert answer.status_code == 200
    assert body["success"] is True
    assert body["cancelled"] is False
    assert "requested, not yet done" in body["message"]
    assert body["orderStatus"] != "cancelled"
    for _ in range(100):  # the fill arrives on the stream
        record = (await client.get(f"/api/v1/orders/{placed['orderId']}")).json()
        if record["status"] == "filled":
            break
        await asyncio.sleep(0.1)
    assert record["status"] == "filled"
