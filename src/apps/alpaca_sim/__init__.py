"""The Alpaca simulator: the paper exchange behind Alpaca's Trading API v2 and trade_updates stream.

`create_app(settings)` is the ASGI app (REST, WebSocket and the `/_sim` controls on one port);
`serve()` runs it, `SimServer` runs it in a background thread for tests, `main()` is the command.
Names load on first use, so that `trading-engine --help` does not import the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apps.alpaca_sim.app import SimulatorApp, create_app
    from apps.alpaca_sim.cli import main
    from apps.alpaca_sim.server import SimServer, serve
    from apps.alpaca_sim.simulation import SimSettings

__all__ = ["SimServer", "SimSettings", "SimulatorApp", "create_app", "main", "serve"]

_HOMES = {
    "SimServer": "server",
    "SimSettings": "simulation",
    "SimulatorApp": "app",
    "create_app": "app",
    "main": "cli",
    "serve": "server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'apps.alpaca_sim' has no attribute {name!r}")
    return getattr(importlib.import_module(f"apps.alpaca_sim.{home}"), name)
