"""The `trading-engine` command: serve, migrate, alpaca-sim, config check."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import ipaddress
import json
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from apps import embedded
from apps.alpaca_sim.cli import add_arguments as add_simulator_arguments
from apps.config import SECTIONS, ConfigError, Secret, Settings, load_settings
from apps.config_parse import env_name
from apps.exits import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_MISSING_EXTRA
from apps.redact import mask


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    changes: dict[str, Any] = {}
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None):
        changes["port"] = args.port
    if getattr(args, "insecure", False):
        changes["insecure"] = True
    return settings.with_server(**changes) if changes else settings


def refuse_exposed_without_token(settings: Settings) -> None:
    """Listening beyond loopback without a token would open trading to anyone who can reach the port."""
    server = settings.server
    if settings.api.token is None and not server.insecure and not is_loopback(server.host):
        raise ConfigError(
            "trading-engine.server.host",
            f"{server.host} is not a loopback address and no API token is set "
            "(set TRADING_API_TOKEN, or pass --insecure to accept the risk)",
        )


def serve(args: argparse.Namespace) -> int:
    from apps.logs import configure_logging
    from apps.serving import run

    settings = _settings(args)
    refuse_exposed_without_token(settings)
    server = settings.server
    listening = listen(server.host, server.port)
    hold_data_folder(settings)  # the descriptor is never closed: the lock lasts as long as the process
    configure_logging(settings.logging)
    return run(settings, listening)


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything starts.

    Uvicorn binds only after the application has started (the embedded database and NATS, the
    reconciliation with the broker): a port already taken, say by a second `make run`, would
    be found out only then. Bound first, it is refused at once, with the way out.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ConfigError("trading-engine.server.host", f"cannot listen on {host}: {e}") from e
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ConfigError(
            "trading-engine.server.port",
            f"cannot listen on {host}:{port}: {e.strerror} (is another trading-engine running? "
            "choose another port with PORT=..., --port or TRADING_ENGINE_SERVER_PORT)",
        ) from e
    sock.setblocking(False)
    return sock


def hold_data_folder(settings: Settings) -> int | None:
    """Lock the embedded data folder before anything starts, when the service is to use it.

    A second `make run` (on another port) would otherwise start on the same embedded PostgreSQL
    and JetStream store with a paper exchange of its own, and the two would diverge. Replicas
    given DATABASE_URL and NATS_URL use no data folder and are not locked.
    """
    folder = settings.embedded.data_dir
    if settings.database.url is not None and (settings.event_bus.url is not None or not settings.embedded.nats):
        return None
    try:
        return embedded.hold_folder(folder)
    except embedded.FolderInUse as e:
        raise ConfigError(
            "trading-engine.embedded.dataDir",
            f"another trading-engine is using {folder.resolve()} (pid {e.holder or 'unknown'}); stop it or "
            "choose another folder with TRADING_ENGINE_EMBEDDED_DATA_DIR=... or embedded.dataDir",
        ) from e


def migrate(args: argparse.Namespace) -> int:
    from apps.bootstrap import migrate as apply

    applied = asyncio.run(apply(_settings(args)))
    print(f"applied {len(applied)} migrations: {', '.join(applied) or 'none (up to date)'}")
    return 0


def alpaca_sim(args: argparse.Namespace) -> int:
    from apps.alpaca_sim import main as serve_simulator

    return serve_simulator(args)


def config_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    refuse_exposed_without_token(settings)
    print(json.dumps(_shown(settings), indent=2, default=str))
    print(f"configuration ok ({settings.source})", file=sys.stderr)
    return 0


def _shown(settings: Settings) -> dict[str, Any]:
    """The effective configuration by file key, secrets masked."""
    shown: dict[str, Any] = {}
    for key, (attr, _) in SECTIONS.items():
        section = getattr(settings, attr)
        shown[key] = {f.metadata["key"]: _plain(getattr(section, f.name)) for f in attrs.fields(type(section))}
    return {"trading-engine": shown}


def _plain(value: Any) -> Any:
    if isinstance(value, Secret):
        revealed = value.reveal()
        return mask(revealed) if "://" in revealed or "=" in revealed else "***"  # a URL: shown without its password
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return value


def config_reference(args: argparse.Namespace) -> int:
    print(reference_table())
    return 0


def reference_table() -> str:
    """Every key with its default, unit, environment variables and meaning, as a Markdown table."""
    rows = ["| Key | Default | Environment | Meaning |", "|---|---|---|---|"]
    defaults = Settings()
    for key, (attr, cls) in SECTIONS.items():
        section = getattr(defaults, attr)
        for f in attrs.fields(cls):
            meta = f.metadata
            default = _plain(getattr(section, f.name))
            shown = "unset" if default is None else ", ".join(default) if isinstance(default, list) else default
            shown = str(shown).lower() if isinstance(shown, bool) else shown
            unit = f" {meta['unit']}" if meta["unit"] else ""
            names = ", ".join(f"`{n}`" for n in (*meta["env"], env_name(key, meta["key"])))
            rows.append(f"| `{key}.{meta['key']}` | `{shown}`{unit} | {names} | {meta['doc']} |")
    return "\n".join(rows)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="trading-engine", description="The trading engine service and its tools.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", "-c", metavar="FILE", help="YAML configuration (default: $TRADING_ENGINE_CONFIG)")
        return p

    run = with_config(commands.add_parser("serve", help="run the HTTP API and the background work"))
    run.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default 3001, or $PORT)")
    run.add_argument("--insecure", action="store_true", help="allow a non-loopback host without an API token")
    run.set_defaults(handler=serve)
    with_config(commands.add_parser("migrate", help="apply pending database migrations")).set_defaults(handler=migrate)
    sim = commands.add_parser("alpaca-sim", help="serve the paper exchange with Alpaca's REST and WebSocket API")
    add_simulator_arguments(sim).set_defaults(handler=alpaca_sim)
    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = with_config(config_commands.add_parser("check", help="validate and print the effective configuration"))
    check.set_defaults(handler=config_check)
    reference = config_commands.add_parser("reference", help="print every key, default and variable (Markdown)")
    reference.set_defaults(handler=config_reference)
    return top


NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "serve": ("service", ("litestar", "uvicorn", "yaml", "psycopg", "psycopg_pool", "nats", "httpx", "msgspec")),
    "migrate": ("service", ("yaml", "psycopg", "psycopg_pool")),
    "alpaca-sim": ("service", ("uvicorn", "httpx", "msgspec")),
    "config": ("service", ("yaml",)),
}
"""Each command's extra, and the modules it needs from it."""


def missing_extra(command: str) -> str | None:
    """The one line saying what to install when a module `command` needs is missing, else None."""
    extra, modules = NEEDS[command]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (
        f"trading-engine {command} needs the {extra} extra ({', '.join(missing)} missing): "
        f"pip install 'trading-engine[{extra}]'"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    missing = missing_extra(args.command)
    if missing is not None:
        print(missing, file=sys.stderr)
        return EXIT_MISSING_EXTRA
    try:
        return int(args.handler(args))
    except ConfigError as e:
        print(f"configuration error: {mask(str(e))}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:  # Ctrl-C: uvicorn re-raises it once the graceful stop is done
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
