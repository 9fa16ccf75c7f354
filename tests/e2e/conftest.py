"""The real service process, over real sockets, with PostgreSQL and NATS: one per test, on its own names.

Each test gets its own database (migrated, from the postgres fixture), its own NATS subjects and
streams, and its own data folder; the process is started with `python -m apps.cli serve` exactly
as `make run` starts it, configured through the environment only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

SRC = Path(__file__).parents[2] / "src"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """`trading-engine serve` in a child process; started, stopped and killed by the test."""

    def __init__(self, env: dict[str, str], log_path: Path, *, own_group: bool = False) -> None:
        self.env = env
        self.own_group = own_group  # leads a process group of its own, as a shell's foreground job does
        self.port = int(env["PORT"])
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "apps.cli", "serve", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=self.own_group
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the service exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the service was not healthy within {START_TIMEOUT:g}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `sig` and wait for the exit; returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return 0
        process.send_signal(sig)
        return process.wait(timeout)

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C at a terminal: SIGINT to the whole process group, children included; returns the exit code."""
        if not self.own_group:
            raise RuntimeError("interrupt() needs a service in a group of its own (own_group=True)")
        process, self.process = self.process, None
        assert process is not None
        os.killpg(process.pid, signal.SIGINT)
        return process.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        return json.loads(response.text, parse_float=Decimal) if response.content else None


@pytest.fixture
def names() -> dict[str, str]:
    """Subjects, streams and the consumer of one test, so that tests never see each other's messages."""
    tag = uuid.uuid4().hex[:10]
    root = f"e2e{tag}"
    return {
        "root": root,
        "prefix": f"{root}.trade",
        "events_stream": f"E2E_{tag}_TRADE",
        "commands_stream": f"E2E_{tag}_COMMANDS",
        "consumer": f"engine-{tag}",
    }


@pytest.fixture
def service_env(postgres_url: str, nats_url: str, names: dict[str, str], tmp_path: Path) -> dict[str, str]:
    root = names["root"]
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(SRC),
        "PORT": str(free_port()),
        "DATABASE_URL": postgres_url,
        "NATS_URL": nats_url,
        "TRADING_ENGINE_EVENT_BUS_PUBLISH_PREFIX": names["prefix"],
        "TRADING_ENGINE_EVENT_BUS_EVENTS_STREAM": names["events_stream"],
        "TRADING_ENGINE_EVENT_BUS_COMMANDS_STREAM": names["commands_stream"],
        "TRADING_ENGINE_EVENT_BUS_CONSUMER": names["consumer"],
        "TRADING_ENGINE_EVENT_BUS_SUBSCRIPTIONS": (
            f"{root}.ai.decision.generated,{root}.market.session.*,{root}.system.shutdown"
        ),
        "TRADING_ENGINE_EMBEDDED_DATA_DIR": str(tmp_path / "data"),
        "TRADING_ENGINE_SYNC_ORDER_STATUS_POLL_INTERVAL": "500",
        "TRADING_ENGINE_BROKER_PAPER_FILL_PARTS": "2",
        "TRADING_ENGINE_BROKER_PAPER_PRICE_WALK": "false",  # the tests count on fixed prices
        "TRADING_ENGINE_BROKER_PAPER_CALENDAR": "always-open",  # and on an open market at any hour
        "LOG_FORMAT": "json",
    }


@pytest.fixture
def service(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(service_env, tmp_path / "service.log")
    process.start()
    yield process
    if process.process is not None:
        process.stop(signal.SIGKILL)


def on_alpaca_simulator(service_env: dict[str, str], sim_url: str) -> dict[str, str]:
    """The service's environment with the Alpaca adapter pointed at a simulator (keys test/test)."""
    return {
        **service_env,
        "ALPACA_BASE_URL": sim_url,
        "ALPACA_DATA_URL": sim_url,
        "ALPACA_API_KEY": "test",
        "ALPACA_SECRET_KEY": "test",
        "TRADING_ENGINE_BROKER_TYPE": "alpaca",
    }
