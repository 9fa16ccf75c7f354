"""Settings: one frozen object per component, parsed once from a YAML file and the environment.

The file has the spec's shape (`trading-engine:` then `server`, `alpaca`, `risk`, `sync`,
`eventBus`, plus our `api`, `broker`, `orders`, `database`, `embedded`, `logging`). Values may
be `${VAR}` or `${VAR:default}`. Every key can also be overridden from the environment, by the
variables named in its `env` metadata or by `TRADING_ENGINE_<SECTION>_<KEY>`. Precedence, lowest
first: defaults, the file, the environment, command line flags. This module is the only reader of
`os.environ`; the sections' classes, each key with its default and checks, are in `apps.config_sections`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from apps.config_parse import ConfigError, Secret, build_section, env_name, read_yaml, substitute
from apps.config_sections import (
    SECTIONS,
    AlpacaConfig,
    ApiConfig,
    BrokerConfig,
    BrokerKind,
    DatabaseConfig,
    EmbeddedConfig,
    EventBusConfig,
    LogFormat,
    LoggingConfig,
    OrdersConfig,
    PaperCalendar,
    RiskConfig,
    ServerConfig,
    SyncConfig,
)
from apps.redact import mask
from trading_core.engine import EngineConfig

# The sections' classes live in apps.config_sections; they are named here too, where callers have always found them.
__all__ = [
    "ConfigError",
    "Secret",
    "Settings",
    "load_settings",
    "parse_settings",
    "simulator_keys",
    "SECTIONS",
    "AlpacaConfig",
    "ApiConfig",
    "BrokerConfig",
    "BrokerKind",
    "DatabaseConfig",
    "EmbeddedConfig",
    "EventBusConfig",
    "LogFormat",
    "LoggingConfig",
    "OrdersConfig",
    "PaperCalendar",
    "RiskConfig",
    "ServerConfig",
    "SyncConfig",
]

ROOT: Final = "trading-engine"
CONFIG_FILE_ENV: Final = "TRADING_ENGINE_CONFIG"


@attrs.frozen(kw_only=True)
class Settings:
    """Everything the service is configured with; build it with `load_settings`."""

    server: ServerConfig = ServerConfig()
    api: ApiConfig = ApiConfig()
    broker: BrokerConfig = BrokerConfig()
    alpaca: AlpacaConfig = AlpacaConfig()
    risk: RiskConfig = RiskConfig()
    orders: OrdersConfig = OrdersConfig()
    sync: SyncConfig = SyncConfig()
    event_bus: EventBusConfig = EventBusConfig()
    database: DatabaseConfig = DatabaseConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    logging: LoggingConfig = LoggingConfig()
    source: str = "defaults"
    """Where the settings came from, for the start-up banner."""

    @property
    def broker_kind(self) -> BrokerKind:
        """The broker in use: `auto` resolves to alpaca when keys are configured."""
        if self.broker.kind is BrokerKind.AUTO:
            return BrokerKind.ALPACA if self.alpaca.has_keys else BrokerKind.PAPER
        return self.broker.kind

    def engine_config(self) -> EngineConfig:
        return EngineConfig(
            limits=self.risk.limits(),
            market_closed_policy=self.orders.market_closed_policy,
            in_doubt_window=timedelta(milliseconds=self.sync.in_doubt_window_ms),
            account_sync_interval=timedelta(milliseconds=self.sync.account_sync_interval_ms),
        )

    def with_server(self, **changes: Any) -> Settings:
        """A copy with server fields replaced (command line flags)."""
        return attrs.evolve(self, server=attrs.evolve(self.server, **changes))


def parse_settings(text: str | None, env: Mapping[str, str], *, source: str = "defaults") -> Settings:
    """Settings from YAML text (None: defaults only) and an environment mapping."""
    document = substitute(read_yaml(text, source=source), env, key=ROOT) if text is not None else {ROOT: {}}
    if not isinstance(document, dict) or ROOT not in document:
        raise ConfigError(source, f"must be a mapping with a top-level `{ROOT}:` key")
    unknown = sorted(set(document) - {ROOT})
    if unknown:
        raise ConfigError(unknown[0], f"unknown top-level key; the file holds only `{ROOT}:`")
    body = document[ROOT] or {}
    if not isinstance(body, dict):
        raise ConfigError(ROOT, f"must be a mapping of sections, was {body!r}")
    stray = sorted(set(body) - set(SECTIONS))
    if stray:
        raise ConfigError(f"{ROOT}.{stray[0]}", f"unknown key; the sections are {', '.join(SECTIONS)}")
    _refuse_unknown_variables(env)
    sections = {
        attr: build_section(cls, body.get(key), env, section=key, root=ROOT) for key, (attr, cls) in SECTIONS.items()
    }
    settings = Settings(**sections, source=source)
    _check_together(settings)
    return settings


def _check_together(settings: Settings) -> None:
    """Refuse what no single key is wrong in, but the service could not start with."""
    if settings.broker.kind is BrokerKind.ALPACA and not settings.alpaca.has_keys:
        raise ConfigError(
            f"{ROOT}.broker.type",
            "is alpaca, but alpaca.apiKey and alpaca.secretKey (ALPACA_API_KEY, ALPACA_SECRET_KEY) are not both set",
        )
    database = settings.database.url
    url = database.reveal() if database is not None else ""
    if "://" in url and not url.startswith(("postgresql://", "postgres://")):  # else libpq's key=value form
        raise ConfigError(f"{ROOT}.database.url", "must be a postgresql:// (or postgres://) URL")
    if "://" in url:
        _check_port(f"{ROOT}.database.url", url)
    bus = settings.event_bus.url
    if bus is not None and not all(u.strip().startswith(_NATS_SCHEMES) for u in bus.split(",")):
        raise ConfigError(f"{ROOT}.eventBus.url", f"must be a NATS URL ({', '.join(_NATS_SCHEMES)}), was {mask(bus)!r}")
    for each in (bus or "").split(","):
        if each.strip():
            _check_port(f"{ROOT}.eventBus.url", each.strip())
    _check_port(f"{ROOT}.alpaca.baseUrl", settings.alpaca.base_url)
    _check_port(f"{ROOT}.alpaca.dataUrl", settings.alpaca.data_url)


def _check_port(key: str, url: str) -> None:
    """A URL's port must be a number from 1 to 65535 (`host:abc` would fail only at connection time)."""
    try:
        port = urlsplit(url).port
    except ValueError as e:
        raise ConfigError(key, f"has a malformed port ({e}), was {mask(url)!r}") from e
    if port == 0:
        raise ConfigError(key, f"has port 0, was {mask(url)!r}")


_NATS_SCHEMES: Final = ("nats://", "tls://", "ws://", "wss://")


def _refuse_unknown_variables(env: Mapping[str, str]) -> None:
    """A misspelt override variable would be ignored silently: refuse it, as an unknown key is."""
    known = {CONFIG_FILE_ENV} | {
        env_name(key, f.metadata["key"]) for key, (_, cls) in SECTIONS.items() for f in attrs.fields(cls)
    }
    unknown = sorted(n for n in env if n.startswith("TRADING_ENGINE_") and n not in known)
    if unknown:
        raise ConfigError(f"${unknown[0]}", "names no configuration key (see `trading-engine config reference`)")


def load_settings(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Read the file at `path` (or $TRADING_ENGINE_CONFIG; none: defaults) with the environment."""
    environ = dict(os.environ) if env is None else dict(env)
    chosen = path if path is not None else environ.get(CONFIG_FILE_ENV) or None
    if chosen is None:
        return parse_settings(None, environ)
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(str(file), f"cannot be read: {e.strerror}") from e
    return parse_settings(text, environ, source=str(file))


SIMULATOR_KEY_ENV: Final = "ALPACA_SIM_KEY"
SIMULATOR_SECRET_ENV: Final = "ALPACA_SIM_SECRET"  # noqa: S105  # the variable's name, not a secret


def simulator_keys(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The API key pair the Alpaca simulator (`trading-engine alpaca-sim`) accepts: default `test` / `test`."""
    environ = os.environ if env is None else env
    return environ.get(SIMULATOR_KEY_ENV) or "test", environ.get(SIMULATOR_SECRET_ENV) or "test"
