"""Short runs of the benchmarks that measure the service against the Alpaca simulator
(`benchmarks/broker_requests.py`, `benchmarks/latency.py`): they run as `make bench` runs them and
print their JSON with figures that make sense. The targets are for the full runs, not asserted here.
`benchmarks/instructions.py` (the core bench's instructions per order, by callgrind) runs where valgrind is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]


def run(bench: str, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / bench), *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ.get("PATH", "")},
        check=False,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_broker_requests_prints_each_phase_with_the_requests_it_counted() -> None:
    # A limit no phase reaches: a short phase at 200 a minute would mostly wait for the next window.
    quiet, market, mix, verdict = run(
        "broker_requests.py", "--quiet-seconds", "3", "--phase-seconds", "6", "--rate-limit", "100000"
    )

    assert [line["phase"] for line in (quiet, market, mix)] == ["background", "market", "mix"]
    assert quiet["background_requests_per_minute"] >= 0
    assert quiet["background_needed_per_minute"] == 15
    # every accepted order was one POST at the simulator, and a few more requests at most
    assert market["orders"] > 10
    assert market["routes"]["POST /v2/orders"] == market["orders"]
    assert 0.9 < market["trading_requests_per_order"] < 3
    assert market["data_requests_per_order"] >= 0
    assert market["orders_per_minute_sustained"] > 0
    assert market["sustained_windows"] == 0  # six seconds hold no two openings of a one-minute window
    assert 0 < market["submit_p50_ms"] <= market["submit_p99_ms"] <= market["submit_max_ms"]
    assert market["rate_limited"] == 0
    # the clients' replaces and cancels are PATCH and DELETE requests at the simulator
    assert mix["orders"] > 0
    assert mix["replaces"] + mix["cancels"] > 0
    assert mix["routes"].get("PATCH /v2/orders/{order_id}", 0) >= mix["replaces"]
    assert mix["routes"].get("DELETE /v2/orders/{order_id}", 0) >= mix["cancels"]
    asked = mix["orders"] + mix["replaces"] + mix["cancels"]
    assert mix["overhead_requests_per_order"] <= round((mix["requests"] - asked) / mix["orders"], 3)
    assert set(verdict["targets_met"]) == {
        "background_requests_per_minute",
        "trading_requests_per_order",
        "data_requests_per_order",
        "orders_per_minute_sustained",
        "overhead_requests_per_order",
    }


def test_latency_times_every_decision_to_the_broker_and_every_fill_to_its_event() -> None:
    (result,) = run("latency.py", "--rate", "20", "--seconds", "3", "--warmup-seconds", "1")

    assert result["benchmark"] == "latency"
    assert result["decisions"] == result["orders_at_broker"] == result["fill_events"] == 60
    assert result["publish_failures"] == 0
    # one clock: each order reaches the simulator after its decision, each event arrives after its fill
    for name in ("decision_to_broker", "fill_to_event"):
        assert 0 < result[f"{name}_p50_ms"] <= result[f"{name}_p99_ms"] <= result[f"{name}_max_ms"] < 10_000
    assert set(result["cpu_ms_per_decision"]) == {"service", "sim", "postgres", "nats"}
    assert result["cpu_ms_per_decision"]["service"] > 0
    assert isinstance(result["target_met"], bool)


@pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="callgrind counts the instructions: valgrind is not installed"
)
@pytest.mark.timeout(400)
def test_instructions_counts_the_engines_instructions_per_order() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "instructions.py"),
            "--small",
            "20",
            "--large",
            "60",
            "--symbols",
            "3",
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": os.environ.get("PATH", "")},
        check=False,
        timeout=390,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert (result["bench"], result["loop"], result["orders"]) == ("instructions", "run", [20, 60])
    small, large = result["instructions"]
    # the larger run counts more, and each order costs something between a thousand and ten million
    assert 0 < small < large
    assert 1_000 < result["instructions_per_order"] < 10_000_000
