"""NATS loses its streams under the running service: the service sets them up again, and says so meanwhile.

A NATS restarted with an empty store accepts the service's reconnection but has neither stream nor
consumer; an operator (or a cluster that lost its meta state) can delete them with the connection
up. Either way decisions must be consumed again without restarting the service, and `/health`
must not answer `eventBus: connected` while they are not. The restart test uses a NATS server of
its own (`private_nats`); the other deletes only its own streams on the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import pytest

from tests.e2e.conftest import ServiceProcess
from tests.e2e.events import published_with_subjects
from tests.e2e.test_decisions_over_nats import orders_of
from tests.e2e.test_lifecycle import eventually
from tests.fixtures.nats import EmbeddedNatsServer

pytestmark = [pytest.mark.nats, pytest.mark.slow]


@pytest.fixture
def service_on_private_nats(
    service_env: dict[str, str], private_nats: EmbeddedNatsServer, tmp_path: Path
) -> Iterator[ServiceProcess]:
    process = ServiceProcess({**service_env, "NATS_URL": private_nats.url}, tmp_path / "service.log")
    process.start()
    yield process
    if process.process is not None:
        process.stop(signal.SIGKILL)


def restart_without_store(server: EmbeddedNatsServer) -> None:
    server.stop()
    shutil.rmtree(server.store_dir / "js", ignore_errors=True)
    server.start()


async def publish_until_stored(url: str, subject: str, body: bytes, within: float = 20.0) -> None:
    """Publish as a producer with retries would: through JetStream, again until a stream stores it."""
    nc = await nats.connect(url)
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    await nc.jetstream().publish(subject, body, timeout=1)
                    return
                except nats.errors.Error:
                    await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def delete_stream(url: str, stream: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def event_bus_state(service: ServiceProcess) -> tuple[int, str]:
    response = service.http.get("/health")
    return response.status_code, response.json()["checks"]["eventBus"]


def test_after_nats_restarts_without_its_store_decisions_are_executed_and_events_published_again(
    service_on_private_nats: ServiceProcess, private_nats: EmbeddedNatsServer, names: dict[str, str]
) -> None:
    service = service_on_private_nats
    restart_without_store(private_nats)

    decision_id = str(uuid.uuid4())
    decision = {"decisionId": decision_id, "approved": True, "symbol": "JPM", "side": "buy", "quantity": 3}
    subject = f"{names['root']}.ai.decision.generated"
    asyncio.run(publish_until_stored(private_nats.url, subject, json.dumps(decision).encode()))
    placed = eventually(
        lambda: orders_of(service, decision_id),
        lambda found: bool(found) and found[0]["status"] == "filled",
        timeout=20,
    )
    events = eventually(
        lambda: [
            e
            for _, e in asyncio.run(published_with_subjects(private_nats.url, names["events_stream"]))
            if e["data"].get("orderId") == placed[0]["orderId"]
        ],
        lambda found: any(e["type"] == "trade.order.filled" for e in found),
    )

    assert len(orders_of(service, decision_id)) == 1
    assert "trade.order.submitted" in [e["type"] for e in events]
    assert eventually(lambda: event_bus_state(service), lambda state: state[0] == 200) == (200, "connected")


def test_health_reports_a_missing_commands_stream_until_it_is_set_up_again(
    service: ServiceProcess, nats_url: str, names: dict[str, str]
) -> None:
    stream = names["commands_stream"]
    seen: list[tuple[int, str]] = []

    async def keep_deleting_until_reported() -> None:
        # The service sets the stream up again within seconds: delete it again until /health has
        # seen it missing (a good answer may be kept for two seconds).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(nats.errors.Error):  # already gone
                await delete_stream(nats_url, stream)
            seen.append(await asyncio.to_thread(event_bus_state, service))
            if seen[-1][0] == 503:
                return
            await asyncio.sleep(0.1)

    asyncio.run(keep_deleting_until_reported())
    recovered = eventually(lambda: event_bus_state(service), lambda state: state[0] == 200, timeout=20)

    # Between the service's setting up the stream and then its consumer, the consumer is what is missing.
    assert seen[-1] in [(503, f"stream {stream} missing"), (503, f"consumer {names['consumer']} missing")]
    assert recovered == (200, "connected")
    assert asyncio.run(stream_subjects(nats_url, stream)) == [
        f"{names['root']}.ai.decision.generated",
        f"{names['root']}.market.session.*",
        f"{names['root']}.system.shutdown",
    ]


async def stream_subjects(url: str, stream: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        return list((await nc.jetstream().stream_info(stream)).config.subjects or ())
    finally:
        await nc.close()
