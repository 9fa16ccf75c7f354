"""The Alpaca simulator: the paper exchange behind Alpaca's Trading API v2 and trade_updates stream.

`create_app(settings)` is the ASGI app (REST, WebSocket and the `/_sim` controls on one port);
`serve()` runs it, `SimServer` runs it in a background thread for tests, `main()` is the command.
"""

from apps.alpaca_sim.app import SimulatorApp, create_app
from apps.alpaca_sim.cli import main
from apps.alpaca_sim.server import SimServer, serve
from apps.alpaca_sim.simulation import SimSettings

__all__ = ["SimServer", "SimSettings", "SimulatorApp", "create_app", "main", "serve"]
