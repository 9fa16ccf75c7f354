"""The service on the Alpaca simulator, killed with SIGKILL while orders are open, and fills arrive
at the broker while it is down: started again, it reconciles. Every fill is applied once, positions
equal the broker's, every event is published once."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ServiceProcess, on_alpaca_simulator
from tests.e2e.events import published
from tests.e2e.test_lifecycle import eventually, filled, order, submit

pytestmark = [pytest.mark.slow]


@pytest.fixture
def on_alpaca(service_env: dict[str, str], alpaca_sim: Any, tmp_path: Path) -> ServiceProcess:
    env = on_alpaca_simulator(service_env, alpaca_sim.url)
    return ServiceProcess(env, tmp_path / "service.log")


def test_fills_made_while_the_service_was_down_are_applied_once(
    on_alpaca: ServiceProcess, alpaca_sim: Any, nats_url: str, names: dict[str, str]
) -> None:
    alpaca_sim.set_price("AAPL", "100.00")
    alpaca_sim.set_price("MSFT", "100.00")
    service = on_alpaca
    service.start()
    try:
        assert f"Alpaca at {alpaca_sim.url}" in service.log()
        assert alpaca_sim.state()["stream_connections"] == 1
        bought = submit(service, symbol="AAPL", quantity=5)
        filled(service, bought["orderId"])
        resting = [
            submit(service, symbol="MSFT", type="limit", limitPrice=99, quantity=3),
            submit(service, symbol="AAPL", type="limit", limitPrice=98, quantity=2),
        ]
        assert all(order(service, r["orderId"])["status"] == "new" for r in resting)

        service.stop(signal.SIGKILL)
        alpaca_sim.set_price("MSFT", "98.50")  # both resting orders fill while the service is down
        alpaca_sim.set_price("AAPL", "97.50")
        service.start()

        for placed in resting:
            assert filled(service, placed["orderId"])["filledQuantity"] == placed_quantity(placed, service)
        broker = alpaca_sim.state()["positions"]
        ours = {p["symbol"]: Decimal(str(p["quantity"])) for p in service.json("GET", "/api/v1/positions")["positions"]}
        assert ours == {symbol: Decimal(quantity) for symbol, quantity in broker.items()}

        events = eventually(
            lambda: asyncio.run(published(nats_url, names["events_stream"])),
            lambda found: sum(e["type"] == "trade.order.filled" for e in found) == 3,
        )
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "an event was published twice"
        fills_per_order = Counter(e["data"]["orderId"] for e in events if e["type"] == "trade.order.filled")
        assert set(fills_per_order.values()) == {1}
    finally:
        if service.process is not None:
            service.stop(signal.SIGKILL)


def placed_quantity(placed: dict[str, Any], service: ServiceProcess) -> Any:
    return order(service, placed["orderId"])["quantity"]
