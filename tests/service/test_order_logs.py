"""An order's life logs one structured line per change: accepted, sent, filled, rejected, cancelled."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from apps.logs import JsonFormatter, OrderIdFilter

Client = AsyncTestClient[Any]

FIELDS = ("order_id", "client_order_id", "symbol", "side", "quantity", "status")


def _lines(caplog: pytest.LogCaptureFixture, order_id: str) -> list[dict[str, Any]]:
    """The lifecycle lines about `order_id`, as the JSON formatter writes them."""
    formatter, ids = JsonFormatter(), OrderIdFilter()
    records = [r for r in caplog.records if r.name == "trading.orders" and getattr(r, "order_id", None) == order_id]
    return [json.loads(formatter.format(r)) for r in records if ids.filter(r)]


@pytest.fixture(autouse=True)
def _info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trading.orders")


async def test_a_filled_order_logs_accepted_sent_filled(api: Client, caplog: pytest.LogCaptureFixture) -> None:
    placed = await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 2, "type": "market"})
    order_id = placed.json()["orderId"]

    lines = _lines(caplog, order_id)

    assert [line["message"].split(":")[0] for line in lines] == ["order accepted", "order sent", "order filled"]
    assert [line["status"] for line in lines] == ["new", "new", "filled"]
    for line in lines:
        assert {k: line[k] for k in FIELDS} | {"status": ""} == {
            "order_id": order_id,
            "client_order_id": placed.json()["clientOrderId"],
            "symbol": "AAPL",
            "side": "buy",
            "quantity": "2.0000",
            "status": "",
        }
    assert (lines[-1]["fill_quantity"], lines[-1]["filled_quantity"]) == ("2.0000", "2.0000")


async def test_a_cancelled_order_logs_its_cancel(api: Client, caplog: pytest.LogCaptureFixture) -> None:
    limit = {"symbol": "MSFT", "side": "buy", "quantity": 1, "type": "limit", "limitPrice": 1}
    order_id = (await api.post("/api/v1/orders", json=limit)).json()["orderId"]
    await api.delete(f"/api/v1/orders/{order_id}")

    lines = _lines(caplog, order_id)

    assert [line["message"].split(":")[0] for line in lines] == ["order accepted", "order sent", "order cancelled"]
    assert lines[-1]["status"] == "cancelled"
    assert lines[-1]["level"] == "info"


async def test_a_rejected_order_logs_the_code_and_reason(api: Client, caplog: pytest.LogCaptureFixture) -> None:
    big = {"symbol": "AAPL", "side": "buy", "quantity": 100000, "type": "market"}
    order_id = (await api.post("/api/v1/orders", json=big)).json()["orderId"]

    lines = _lines(caplog, order_id)

    assert [line["message"].split(":")[0] for line in lines] == ["order rejected"]
    assert (lines[0]["status"], lines[0]["code"]) == ("rejected", "INSUFFICIENT_FUNDS")
    assert "buying power" in lines[0]["reason"]


async def test_many_orders_log_a_line_per_change(api: Client, caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(20):
        await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"})

    lines = [r for r in caplog.records if r.name == "trading.orders"]

    assert len(lines) == 20 * 3
