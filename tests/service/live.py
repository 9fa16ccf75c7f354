"""The service over real sockets (the event stream, the browser tests): the real app over in-memory
adapters and the paper exchange, served by uvicorn on a free port in a thread of its own, with a
bearer token."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import httpx
import uvicorn
from litestar import Litestar

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.service.app import create_app
from apps.service.event_stream import QUEUE_SIZE
from tests.service.conftest import container_for, settings_with
from trading_core.clock import SystemClock

TOKEN = "console-test-token"  # the test service's own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.frozen
class Live:
    url: str
    """The base URL, http://127.0.0.1:<port>."""
    app: Litestar


@contextmanager
def running_service(
    *, token: str | None = TOKEN, exchange: PaperExchange | None = None, event_queue_size: int = QUEUE_SIZE, **env: str
) -> Iterator[Live]:
    """The service while the block runs, with `token` (none: open, as the embedded default);
    prices still, the market always open; `exchange` in place of a fresh paper exchange; an event
    stream's client let fall `event_queue_size` events behind before its stream overflows."""
    settings = settings_with(**({"TRADING_API_TOKEN": token} if token else {}), **env)
    broker = exchange if exchange is not None else PaperExchange(SystemClock())
    app = create_app(container_for(settings, broker, InMemoryEventBus()), event_queue_size=event_queue_size)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the service did not start"
    try:
        yield Live(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(15)


class Api:
    """The API as a script would call it, with the token."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def submit(self, **order: Any) -> httpx.Response:
        return self.client.post("/api/v1/orders", json=order)

    def order(self, order_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/api/v1/orders/{order_id}")
        answer.raise_for_status()
        return dict(answer.json())

    def set_price(self, symbol: str, price: str) -> None:
        self.client.put(f"/api/v1/paper/prices/{symbol}", content=f'{{"price": {price}}}').raise_for_status()

    def close(self) -> None:
        self.client.close()
