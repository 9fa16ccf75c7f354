"""The full order lifecycle against the running service, over HTTP and NATS.

The broker is the paper exchange inside the service (filling each order in two parts), the
store is PostgreSQL and events go out on NATS. The Alpaca simulator variant comes with issue 5.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.e2e.conftest import ServiceProcess, on_alpaca_simulator
from tests.e2e.events import publish_command, published
from tests.fixtures.nats import EmbeddedNatsServer, nats_server_binary

pytestmark = pytest.mark.slow

T = TypeVar("T")


def eventually(probe: Callable[[], T], until: Callable[[T], bool], timeout: float = 15.0) -> T:
    """Call `probe` until `until` holds for its answer; fail with the last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout:g}s")
        time.sleep(0.05)


def metric(service: ServiceProcess, line_start: str) -> Decimal | None:
    text = service.http.get("/metrics").text
    line = next((x for x in text.splitlines() if x.startswith(line_start + " ")), None)
    return Decimal(line.rsplit(" ", 1)[1]) if line else None


def order(service: ServiceProcess, order_id: str) -> Any:
    return service.json("GET", f"/api/v1/orders/{order_id}")


def submit(service: ServiceProcess, **fields: Any) -> Any:
    body = {"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market", **fields}
    response = service.http.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def filled(service: ServiceProcess, order_id: str) -> Any:
    return eventually(lambda: order(service, order_id), lambda o: o["status"] == "filled")


def position_quantity(service: ServiceProcess, symbol: str) -> Decimal:
    response = service.http.get(f"/api/v1/positions/{symbol}")
    return Decimal(0) if response.status_code == 404 else Decimal(str(response.json()["quantity"]))


def test_the_full_lifecycle_over_http_and_nats(service: ServiceProcess, nats_url: str, names: dict[str, str]) -> None:
    """On the paper exchange, which fills each order in two parts."""
    full_lifecycle(service, nats_url, names)


def test_the_full_lifecycle_on_the_alpaca_simulator(
    service_env: dict[str, str], alpaca_sim: Any, tmp_path: Path, nats_url: str, names: dict[str, str]
) -> None:
    """Through the Alpaca adapter, over real sockets, to the simulator filling each order in parts."""
    alpaca_sim.set_price("AAPL", "190.00")
    alpaca_sim.set_price("MSFT", "415.00")  # the resting limit at 100 must not be marketable
    alpaca_sim.set_faults({"kind": "partial_fills", "sizes": ["5"]})
    env = on_alpaca_simulator(service_env, alpaca_sim.url)
    service = ServiceProcess(env, tmp_path / "service-alpaca.log")
    service.start()
    try:
        full_lifecycle(service, nats_url, names)
        assert alpaca_sim.state()["positions"] == {}
    finally:
        service.stop(signal.SIGKILL)


def full_lifecycle(service: ServiceProcess, nats_url: str, names: dict[str, str]) -> None:
    health = service.json("GET", "/health")
    assert health["status"] == "healthy"
    assert metric(service, 'trading_orders_total{status="filled"}') is None

    bought = submit(service, quantity=10)
    assert bought["status"] == "accepted"
    assert filled(service, bought["orderId"])["filledQuantity"] == 10
    assert position_quantity(service, "AAPL") == 10
    assert metric(service, 'trading_orders_total{status="partially_filled"}') == 1
    assert metric(service, 'trading_orders_total{status="filled"}') == 1
    assert metric(service, "trading_positions_count") == 1

    filled(service, submit(service, quantity=4)["orderId"])
    assert position_quantity(service, "AAPL") == 14

    resting = submit(service, symbol="MSFT", type="limit", limitPrice=100, quantity=1)
    modified = service.json("PATCH", f"/api/v1/orders/{resting['orderId']}", json={"limitPrice": 101})
    assert modified["replaces"] == resting["orderId"]
    assert modified["limitPrice"] == 101
    cancel = service.json("DELETE", f"/api/v1/orders/{modified['orderId']}")
    assert cancel["success"] is True
    eventually(
        lambda: order(service, modified["orderId"]), lambda o: o["status"] == "cancelled"
    )  # a broker confirms later

    closing = service.json("DELETE", "/api/v1/positions/AAPL", params={"quantity": "4"})
    filled(service, closing["orderId"])
    assert position_quantity(service, "AAPL") == 10

    decision_id = str(uuid.uuid4())
    decision = {"decisionId": decision_id, "approved": True, "symbol": "MSFT", "side": "buy", "quantity": 2}
    subject = f"{names['root']}.ai.decision.generated"
    for _ in range(2):  # a redelivered decision places one order
        asyncio.run(publish_command(nats_url, subject, decision, msg_id=f"{decision_id}-{_}"))
    from_decision = eventually(
        lambda: [o for o in service.json("GET", "/api/v1/orders?status=all")["orders"] if o.get("decisionId")],
        lambda found: len(found) >= 1,
    )
    assert len(from_decision) == 1
    filled(service, from_decision[0]["orderId"])
    assert position_quantity(service, "MSFT") == 2

    closed = service.json("DELETE", "/api/v1/positions")
    assert closed["closedCount"] == 2
    for order_id in closed["orderIds"]:
        filled(service, order_id)
    assert service.json("GET", "/api/v1/positions")["positions"] == []
    assert metric(service, "trading_positions_count") == 0

    account = service.json("GET", "/api/v1/account")
    assert set(account) >= {"accountId", "equity", "cash", "buyingPower", "daytradeCount", "patternDayTrader"}

    events = eventually(
        lambda: asyncio.run(published(nats_url, names["events_stream"])),
        lambda found: sum(e["type"] == "trade.position.closed" for e in found) == 2,
    )
    types = {e["type"] for e in events}
    assert types >= {
        "trade.order.submitted",
        "trade.order.partial",
        "trade.order.filled",
        "trade.order.cancelled",
        "trade.position.opened",
        "trade.position.updated",
        "trade.position.closed",
    }
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was published twice"


def test_a_restart_after_sigkill_finds_the_orders_again(service: ServiceProcess) -> None:
    market = submit(service, quantity=3)
    resting = submit(service, symbol="MSFT", type="limit", limitPrice=100, quantity=1)
    filled(service, market["orderId"])

    assert service.stop(signal.SIGKILL) == -signal.SIGKILL
    service.start()

    assert order(service, market["orderId"])["status"] == "filled"
    assert order(service, resting["orderId"])["orderId"] == resting["orderId"]
    assert service.json("GET", "/health")["status"] == "healthy"


def test_sigterm_cancels_open_orders_and_exits_in_time(
    service: ServiceProcess, nats_url: str, names: dict[str, str]
) -> None:
    resting = submit(service, symbol="MSFT", type="limit", limitPrice=100, quantity=1)

    started = time.monotonic()
    code = service.stop(signal.SIGTERM)
    took = time.monotonic() - started

    assert code == 0  # a stop asked for, done: not a death by the signal (which `make run` reported as Terminated)
    assert took < 15
    assert '"message": "stopped"' in service.log()
    events = asyncio.run(published(nats_url, names["events_stream"]))
    cancelled = [e for e in events if e["type"] == "trade.order.cancelled"]
    assert [e["data"]["orderId"] for e in cancelled] == [resting["orderId"]]


def test_ctrl_c_stops_the_embedded_nats_only_after_the_outbox_is_flushed_to_it(
    service_env: dict[str, str], tmp_path: Path, names: dict[str, str]
) -> None:
    """SIGINT reaches the whole foreground process group; the embedded nats-server must not die with it first."""
    env = {k: v for k, v in service_env.items() if k != "NATS_URL"}  # the embedded NATS, in the test's data folder
    service = ServiceProcess(env, tmp_path / "service-ctrl-c.log", own_group=True)
    service.start()
    try:
        assert "embedded NATS at" in service.log()
        resting = submit(service, symbol="MSFT", type="limit", limitPrice=100, quantity=1)
        code = service.interrupt()
    finally:
        if service.process is not None:
            service.stop(signal.SIGKILL)

    assert code == 130, service.log()  # as a shell reports an interrupted command, without a traceback
    assert "KeyboardInterrupt" not in service.log()
    assert '"message": "flushed ' in service.log()  # the cancellation, unless the relay sent it just before
    assert "event bus unavailable" not in service.log()
    store = EmbeddedNatsServer(
        nats_server_binary() or "nats-server", Path(env["TRADING_ENGINE_EMBEDDED_DATA_DIR"]) / "nats"
    )
    store.start()  # the embedded server's store, read back after the service has gone
    try:
        events = asyncio.run(published(store.url, names["events_stream"]))
    finally:
        store.stop()
    cancelled = [e for e in events if e["type"] == "trade.order.cancelled"]
    assert [e["data"]["orderId"] for e in cancelled] == [resting["orderId"]]
