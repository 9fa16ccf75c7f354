"""Instructions per order of the in-process engine (`benchmarks/core.py`'s workload), counted by callgrind.

Counts, unlike seconds, hold still on a shared machine: valgrind's callgrind counts the instructions
the interpreter executes (Ir). The engine's cost per order is the difference between a run of
`--large` orders and one of `--small`, over their difference, so that start-up, imports and the
first orders' warm-up cancel out. PYTHONHASHSEED=0 keeps dict and set layouts the same run to run.
What is counted is the loop the bench times (`--window timed`): its orders per second leave out the
set-up before it and the garbage collection after it, so the count does too. `--window whole`
counts the whole process (what this script counted before 2026-12-07; between a tree that collects
garbage after its loop and one that does not, it differs by that collection).

    python benchmarks/instructions.py                                   # this tree
    python benchmarks/instructions.py --tree . --tree /work/wt-before   # this tree and a baseline checkout
    python benchmarks/instructions.py --loop core_floor                 # the core's pure functions alone

Seconds, beside it: run the two checkouts' benches in turn, a few rounds, so that the machine's
drift hits both alike, and compare `orders_per_cpu_s` round by round:

    for i in 1 2 3; do for t in /work/wt-before .; do
        PYTHONPATH=$t/src python $t/benchmarks/core.py --orders 20000; done; done

`--tree` is a checkout's root: its own `src/` and `benchmarks/core.py` are run (with this Python, so
its dependencies must be installed here). `--keep DIR` keeps callgrind's output files for
`callgrind_annotate --inclusive=yes DIR/<file>`. Prints one JSON line per tree; without valgrind, one
line saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DRIVER = """
import asyncio, sys
sys.path[:0] = [{src!r}, {benchmarks!r}]
import core
orders, symbols = {orders}, {symbols}
if {loop!r} == "run":
    asyncio.run(core.run(orders, symbols))
else:
    core.core_floor(orders, symbols)
"""


def instructions(tree: Path, loop: str, orders: int, symbols: int, out: Path, *, window: str = "timed") -> int:
    """The instructions the interpreter runs for `orders` orders of `tree`'s bench.

    `window` "timed": those between the bench's two `time.process_time()` calls, which bound what
    its orders per second time (callgrind dumps its counts as each call begins: the second dump is
    the timed loop); "whole": the whole process, start-up and what follows the loop included.
    """
    driver = DRIVER.format(
        src=str(tree / "src"), benchmarks=str(tree / "benchmarks"), orders=orders, symbols=symbols, loop=loop
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
    # Once without valgrind first, so that both counted runs find every module compiled: in a
    # fresh checkout the first counted run compiled them, which took 190-270k off the figure.
    subprocess.run([sys.executable, "-c", driver], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            *_no_randomisation(),
            "valgrind",
            "--tool=callgrind",
            "--dump-instr=no",
            *(["--dump-before=time_process_time"] if window == "timed" else []),
            f"--callgrind-out-file={out}",
            sys.executable,
            "-c",
            driver,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    counted = out
    if window == "timed":
        counted = out.with_name(out.name + ".2")
        if not counted.exists():  # no symbol time_process_time in this Python's build
            raise SystemExit(f"callgrind made no dump of the timed loop ({counted}): use --window whole")
    totals = re.search(r"^(?:totals|summary): (\d+)", counted.read_text(), re.MULTILINE)
    if totals is None:
        raise SystemExit(f"no totals in {counted}")
    return int(totals.group(1))


def _no_randomisation() -> list[str]:
    """`setarch <arch> -R` where there is one: without address-space randomisation, runs of one tree
    count alike (with it, the same tree moved by ~1k per order run to run, as addresses hashed and
    compared differently)."""
    setarch = shutil.which("setarch")
    if setarch is None:
        return []
    arch = os.uname().machine
    probe = subprocess.run([setarch, arch, "-R", "true"], capture_output=True, check=False)
    return [setarch, arch, "-R"] if probe.returncode == 0 else []


def _commit(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, action="append", help="a checkout's root (repeatable); default this one")
    parser.add_argument("--loop", choices=("run", "core_floor"), default="run")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=3_000)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument(
        "--window",
        choices=("timed", "whole"),
        default="timed",
        help="count the loop the bench times (default), or the whole process",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep callgrind's output files here")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print(json.dumps({"bench": "instructions", "skipped": "valgrind is not installed"}))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for given in args.tree or [ROOT]:
            tree = given.resolve()
            commit = _commit(tree)
            counts = {
                n: instructions(
                    tree, args.loop, n, args.symbols, folder / f"callgrind.{commit}.{args.loop}.{n}", window=args.window
                )
                for n in (args.small, args.large)
            }
            per_order = (counts[args.large] - counts[args.small]) / (args.large - args.small)
            result = {
                "bench": "instructions",
                "loop": args.loop,
                "window": args.window,
                "tree": str(tree),
                "commit": commit,
                "symbols": args.symbols,
                "orders": [args.small, args.large],
                "instructions": [counts[args.small], counts[args.large]],
                "instructions_per_order": round(per_order),
                "python": sys.version.split()[0],
            }
            print(json.dumps(result))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
