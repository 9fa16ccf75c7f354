"""The core bench (`make bench`) runs, prints the issue's keys, and its three loops agree to the cent."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_bench_prints_its_keys_and_the_loops_agree_on_realised_pnl() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "core.py"), "--orders", "700", "--symbols", "3"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    required = {"bench", "orders", "orders_per_s", "fills_per_s", "p50_us", "p99_us", "rejected", "realized_pnl"}
    assert required <= result.keys()
    assert (result["bench"], result["orders"], result["rejected"]) == ("core", 700, 0)
    # 700 orders over 3 symbols run the whole cycle (open, grow, shrink, close, flip) many times:
    # the P&L is not zero, and the engine, the plain loop and the core's own functions agree on it.
    realized = Decimal(result["realized_pnl"])
    assert realized != 0
    assert Decimal(result["reference_realized_pnl"]) == realized
    assert Decimal(result["core_floor_realized_pnl"]) == realized
