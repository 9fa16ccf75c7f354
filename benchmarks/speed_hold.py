"""Issue #15's speed hold: the core bench's orders per CPU second, against a checkout of the commit
before #15 (4d33c35), in one run, and what of the difference is #15's own.

    python benchmarks/speed_hold.py --before /work/wt-before --rounds 5

Each round runs, in turn and in a process of its own: the `--before` tree's `benchmarks/core.py`;
this tree's; and this tree's with the per-order work of issues that came after #15 was filed
switched off. #15 asked to land before them ("Do this before the protective orders and the
library work, which add to the same engine"), so its hold measured against the commit before it
is the third line; the second is the engine as it stands. What is switched off, each a step the
engine at 4d33c35 did not take at all:

- #19: the portfolio snapshot taken after each run of fills (`History._after_fills`), the closed
  position kept per closing fill (`ledger.closed_position`), the paper tape's minute bars
  (`Tape.record`);
- #18: order ids as version 7 UUIDs (random bits, not a counter: `submission.new_order_id`).

#16's account kept between reads and #17's checks for protective orders stay on (they replace or
guard work the older engine did in other ways), so the third line is if anything low. Prints one
JSON line per run, then one with the medians and their ratios; P&L must be equal in every run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DRIVER = """
import asyncio, json, sys
sys.path[:0] = [{src!r}, {benchmarks!r}]
import core
if {later_off!r}:
    from adapters.paper import tape
    from trading_core import ledger, values
    from trading_core.engine import history, submission

    async def no_snapshot(self, order, executions):
        return None

    history.History._after_fills = no_snapshot
    ledger.closed_position = lambda change, fill: None
    tape.Tape.record = lambda self, symbol, price, at: None
    submission.new_order_id = lambda now=None: values.OrderId(values._uuids.next())
print(json.dumps(asyncio.run(core.run({orders}, {symbols}))))
"""


def bench(tree: Path, *, later_off: bool, orders: int, symbols: int) -> dict[str, object]:
    """One run of `tree`'s core bench, in a process of its own, on one core where it can be pinned."""
    driver = DRIVER.format(
        src=str(tree / "src"), benchmarks=str(tree / "benchmarks"), later_off=later_off, orders=orders, symbols=symbols
    )
    pin = ["taskset", "-c", "1"] if (os.cpu_count() or 1) > 1 and _has("taskset") else []
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
    done = subprocess.run([*pin, sys.executable, "-c", driver], env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def _has(program: str) -> bool:
    return any((Path(folder) / program).exists() for folder in os.environ.get("PATH", "").split(os.pathsep))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, default=None, help="a checkout of the commit before #15 (4d33c35)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--symbols", type=int, default=10)
    args = parser.parse_args(argv)
    runs = [("this", ROOT, False), ("this_without_later_issues", ROOT, True)]
    if args.before is not None:
        runs.insert(0, ("before", args.before.resolve(), False))
    per_second: dict[str, list[int]] = {name: [] for name, _, _ in runs}
    for round_ in range(args.rounds):
        for name, tree, later_off in runs:
            result = bench(tree, later_off=later_off, orders=args.orders, symbols=args.symbols)
            per_second[name].append(int(result["orders_per_cpu_s"]))  # type: ignore[call-overload]
            line = {"bench": "speed_hold", "round": round_, "run": name, "tree": str(tree)}
            print(json.dumps({**line, "orders_per_cpu_s": result["orders_per_cpu_s"], "pnl": result["realized_pnl"]}))
            sys.stdout.flush()
    medians = {name: statistics.median(values) for name, values in per_second.items()}
    summary: dict[str, object] = {"bench": "speed_hold", "median_orders_per_cpu_s": medians}
    if "before" in medians:
        summary["ratio_to_before"] = {name: round(m / medians["before"], 3) for name, m in medians.items()}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
