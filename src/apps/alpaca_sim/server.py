"""Running the simulator: `serve()` in the foreground, `SimServer` in a background thread for tests."""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from apps.alpaca_sim.app import SimulatorApp, create_app
from apps.alpaca_sim.simulation import SimSettings
from trading_core.clock import Clock


def serve(settings: SimSettings, *, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
    """Serve until interrupted (REST and WebSocket on one port)."""
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        interface="asgi3",
        timeout_graceful_shutdown=5,
    )


class SimServer:
    """The simulator on a free loopback port, in a background thread, with its controls.

    Use it as a context manager. `url` is the REST base for alpaca-py's `url_override`,
    `stream_url` the WebSocket URL; the control methods call `/_sim/...` and return its JSON.

    Args:
        settings: Keys, rate limit and exchange; by default keys `test`/`test` and no rate limit.
        host: The loopback address to listen on.
        port: 0 picks a free port.
        clock: Where the exchange's time comes from (the wall clock by default; a test's clock
            moves the calendar's sessions when it is moved).
    """

    def __init__(
        self, settings: SimSettings | None = None, *, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None
    ) -> None:
        self.settings = settings or SimSettings(rate_limit=0)
        self.app: SimulatorApp = create_app(self.settings, clock=clock)
        self._host = host
        self._requested_port = port
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._controls: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://{self._host}:{self.port}/stream"

    def data_stream_url(self, feed: str = "iex") -> str:
        """The market-data WebSocket URL (`feed`: iex, sip or test)."""
        return f"ws://{self._host}:{self.port}/v2/{feed}"

    def start(self, timeout: float = 10.0) -> SimServer:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
        # without it every answer waits 40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._requested_port))
        sock.listen(128)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="on", interface="asgi3", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Alpaca simulator did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._controls is not None:
            self._controls.close()
        self._server = None
        self._thread = None
        self._controls = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- controls

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call `/_sim/<path>`; raise `RuntimeError` with the answer when it is not 200."""
        if self._controls is None:
            # Plain HTTP on loopback: verify=False only skips loading CA certificates (60 ms a client).
            self._controls = httpx.Client(base_url=self.url, timeout=10, verify=False)  # noqa: S501
        answer = self._controls.request(method, f"/_sim/{path}", json=body)
        if answer.status_code != 200:
            raise RuntimeError(f"/_sim/{path} answered {answer.status_code}: {answer.text}")
        result: dict[str, Any] = answer.json()
        return result

    def reset(self, **body: Any) -> dict[str, Any]:
        return self.control("POST", "reset", body)

    def set_price(self, symbol: str, price: Decimal | str) -> dict[str, Any]:
        """Set `symbol`'s price (`/_sim/price`), a Decimal (as the paper exchange's) or its text.

        Raises:
            TypeError: `price` is a float (or anything else), which would not be read exactly.
        """
        if isinstance(price, bool) or not isinstance(price, Decimal | str):
            raise TypeError(f"price must be a Decimal or a str, was {type(price).__name__}: {price!r}")
        return self.control("POST", "price", {"symbol": symbol, "price": str(price)})

    def step(self, n: int = 1) -> dict[str, Any]:
        return self.control("POST", "step", {"n": n})

    def set_market(self, *, is_open: bool) -> dict[str, Any]:
        return self.control("POST", "market", {"open": is_open})

    def set_faults(self, *rules: dict[str, Any]) -> dict[str, Any]:
        return self.control("POST", "faults", {"rules": list(rules)})

    def faults(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self.control("GET", "faults")["rules"]
        return rules

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def traffic(self) -> dict[str, Any]:
        """Requests per route, submission arrivals and fill sends since the reset (`/_sim/traffic`)."""
        return self.control("GET", "traffic")

    def drop_stream(self) -> dict[str, Any]:
        return self.control("POST", "stream/drop")

    def drop_data_stream(self, *, refuse: float = 0) -> dict[str, Any]:
        """Close every market-data connection; refuse new ones for `refuse` seconds."""
        return self.control("POST", "data/drop", {"refuse": refuse})

    def wait_for_data_stream(self, *, quotes: list[str], timeout: float = 10.0) -> None:
        """Wait until the market-data connections subscribe to exactly these quotes."""
        deadline = time.monotonic() + timeout
        while self.state()["data_subscribed"]["quotes"] != sorted(quotes):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no market-data subscription to the quotes of {quotes} within {timeout} s")
            time.sleep(0.01)

    def wait_for_stream(self, *, listening: int = 1, timeout: float = 10.0) -> None:
        """Wait until this many trade_updates connections listen (0: until none does)."""
        deadline = time.monotonic() + timeout
        while self.state()["stream_listening"] != listening:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {listening} listening trade_updates connection within {timeout} s")
            time.sleep(0.01)
