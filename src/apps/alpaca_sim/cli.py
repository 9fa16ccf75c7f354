"""`trading-engine alpaca-sim` and `python -m apps.alpaca_sim`: the simulator in the foreground.

Light to import (the server loads when `main` runs), so that `trading-engine` can build its parser
with `add_arguments` at no cost.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from apps.alpaca_sim.ratelimit import DEFAULT_RATE_LIMIT

if TYPE_CHECKING:
    from apps.alpaca_sim.simulation import SimSettings

DEFAULT_PORT = 8765


def _cash(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as e:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from e
    if not value > 0:
        raise argparse.ArgumentTypeError(f"cash must be positive, was {text}")
    return value


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"days must be a whole number, was {text}") from e
    if value < 0:
        raise argparse.ArgumentTypeError(f"days must be 0 or more, was {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The simulator's options, for this module's parser and for `trading-engine alpaca-sim`."""
    parser.epilog = parser.epilog or "Keys: $ALPACA_SIM_KEY / $ALPACA_SIM_SECRET (default test / test)."
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=DEFAULT_RATE_LIMIT,
        help=f"requests a minute per key, 0 for none (default {DEFAULT_RATE_LIMIT})",
    )
    parser.add_argument("--cash", type=_cash, default=Decimal(100_000), help="starting cash (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the price walk and the fault rules")
    parser.add_argument(
        "--history-days",
        type=_days,
        default=0,
        metavar="N",
        help="trading days of made-up bars before the start (the walk run backward; default 0: none)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="FILE",
        help="journal that keeps orders, fills, positions and cash across restarts (created if missing)",
    )
    parser.add_argument(
        "--always-open",
        action="store_true",
        help="open the session from the start and only by /_sim/market (tests, demos); "
        "without it the session follows the NYSE calendar by the clock",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def parser() -> argparse.ArgumentParser:
    return add_arguments(
        argparse.ArgumentParser(
            prog="trading-engine alpaca-sim",
            description="The paper exchange behind Alpaca's Trading API v2 and trade_updates stream.",
        )
    )


def settings_from(args: argparse.Namespace, keys: tuple[str, str]) -> SimSettings:
    from adapters.paper import PaperConfig
    from apps.alpaca_sim.simulation import SimSettings

    return SimSettings(
        key_id=keys[0],
        secret_key=keys[1],
        rate_limit=getattr(args, "rate_limit", DEFAULT_RATE_LIMIT),
        paper=PaperConfig(
            starting_cash=getattr(args, "cash", Decimal(100_000)),
            seed=getattr(args, "seed", 0),
            history_days=getattr(args, "history_days", 0),
        ),
        state=getattr(args, "state", None),
        always_open=getattr(args, "always_open", False),
    )


def main(argv: Sequence[str] | argparse.Namespace | None = None) -> int:
    """Serve the simulator until interrupted; `argv` may be arguments or an already parsed namespace."""
    from apps.alpaca_sim.server import serve
    from apps.config import simulator_keys

    args = argv if isinstance(argv, argparse.Namespace) else parser().parse_args(argv)
    if args.rate_limit < 0:
        print("alpaca-sim: --rate-limit must be 0 or more", file=sys.stderr)
        return 2
    settings = settings_from(args, simulator_keys())
    print(f"alpaca-sim: http://{args.host}:{args.port}/v2  ws://{args.host}:{args.port}/stream", file=sys.stderr)
    serve(settings, host=args.host, port=args.port, log_level=getattr(args, "log_level", "info"))
    return 0
