"""`/metrics` is Prometheus' text format: the exact Content-Type, read by the official parser and by Prometheus.

The real Prometheus (Debian's `prometheus`, which `make test` installs where it can) scrapes the
service over a socket; where the binary is missing that test is skipped and the parser's stands.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.service.app import create_app
from tests.service.conftest import container_for, settings_with
from trading_core.clock import SystemClock

Client = AsyncTestClient[Any]

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
SPEC_METRICS = {
    "trading_orders": "counter",  # the parser names a counter without its _total suffix
    "trading_order_latency_ms": "histogram",
    "trading_positions_count": "gauge",
    "trading_buying_power": "gauge",
    "trading_daily_pnl": "gauge",
}


async def test_the_content_type_is_prometheus_text_format_with_one_charset(api: Client) -> None:
    response = await api.get("/metrics")

    assert response.headers["content-type"] == PROMETHEUS_TEXT


async def test_the_official_parser_reads_every_metric_with_its_type_and_values(api: Client) -> None:
    await api.post("/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 10, "type": "market"})

    families = {f.name: f for f in text_string_to_metric_families((await api.get("/metrics")).text)}

    assert {name: families[name].type for name in SPEC_METRICS} == SPEC_METRICS
    filled = [s for s in families["trading_orders"].samples if s.labels == {"status": "filled"}]
    assert [(s.name, s.value) for s in filled] == [("trading_orders_total", 1.0)]
    assert [s.value for s in families["trading_positions_count"].samples] == [1.0]
    for stage in ("submitted", "filled"):
        buckets = [
            s
            for s in families["trading_order_latency_ms"].samples
            if s.name.endswith("_bucket") and s.labels["stage"] == stage
        ]
        assert buckets[-1].labels["le"] == "+Inf"
        assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative
        assert buckets[-1].value == 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_port() -> Iterator[int]:
    app = create_app(container_for(settings_with(), PaperExchange(SystemClock()), InMemoryEventBus()))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(10)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as answer:  # our own Prometheus on loopback
        return json.loads(answer.read())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus binary (apt-get install prometheus)")
def test_a_real_prometheus_scrapes_it(live_port: int, tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: trading-engine\n    static_configs: [{{targets: ['127.0.0.1:{live_port}']}}]\n"
    )
    web = _free_port()
    prometheus = subprocess.Popen(  # the system's prometheus, arguments of our own
        [
            str(shutil.which("prometheus")),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{web}/api/v1"
        deadline = time.monotonic() + 60
        target: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                targets = _get(f"{base}/targets")["data"]["activeTargets"]
            except OSError:
                targets = []
            target = targets[0] if targets else {}
            if target.get("health") == "up":
                break
            time.sleep(0.5)
        assert (target.get("health"), target.get("lastError")) == ("up", "")
        query = urllib.parse.urlencode({"query": "trading_buying_power"})
        result = _get(f"{base}/query?{query}")["data"]["result"]
        assert [float(r["value"][1]) for r in result] == [200000.0]
    finally:
        prometheus.terminate()
        prometheus.wait(10)
