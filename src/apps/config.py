"""Settings: one frozen object per component, parsed once from a YAML file and the environment.

The file has the spec's shape (`trading-engine:` then `server`, `alpaca`, `risk`, `sync`,
`eventBus`, plus our `api`, `broker`, `orders`, `database`, `embedded`, `logging`). Values may
be `${VAR}` or `${VAR:default}`. Every key can also be overridden from the environment, by the
variables named in its `env` metadata or by `TRADING_ENGINE_<SECTION>_<KEY>`. Precedence, lowest
first: defaults, the file, the environment, command line flags. This module is the only reader of
`os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from apps.config_parse import ConfigError, Secret, build_section, check, env_name, read_yaml, setting, substitute
from apps.redact import mask
from trading_core.engine import EngineConfig, MarketClosedPolicy
from trading_core.risk import RiskLimits

__all__ = ["ConfigError", "Secret", "Settings", "load_settings"]

ROOT: Final = "trading-engine"
CONFIG_FILE_ENV: Final = "TRADING_ENGINE_CONFIG"

_positive = check(lambda v: v > 0, "greater than 0")
_non_negative = check(lambda v: v >= 0, "0 or more")
_percent = check(lambda v: 0 < v <= 100, "a percentage above 0 and at most 100")
_below_hundred = check(lambda v: 0 < v < 100, "a percentage above 0 and below 100")


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    TEXT = "text"


class BrokerKind(StrEnum):
    AUTO = "auto"
    PAPER = "paper"
    ALPACA = "alpaca"


class PaperCalendar(StrEnum):
    NYSE = "nyse"
    ALWAYS_OPEN = "always-open"


@attrs.frozen(kw_only=True)
class ServerConfig:
    port: int = setting(3001, key="port", env=("PORT",), doc="TCP port of the HTTP API.")
    host: str = setting("127.0.0.1", key="host", env=("HOST",), doc="Address to listen on (loopback by default).")
    insecure: bool = setting(False, key="insecure", doc="Allow a non-loopback host without an API token.")
    shutdown_timeout_ms: int = setting(
        10_000, key="shutdownTimeout", unit="ms", doc="Bound on a graceful shutdown (cancel orders, flush events)."
    )

    def __attrs_post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError("port", f"must be a TCP port from 1 to 65535, was {self.port}")
        _positive(self, attrs.fields(ServerConfig).shutdown_timeout_ms, self.shutdown_timeout_ms)


@attrs.frozen(kw_only=True)
class ApiConfig:
    token: Secret | None = setting(
        None, key="token", env=("TRADING_API_TOKEN",), doc="Bearer token required by all but /health and /metrics."
    )


@attrs.frozen(kw_only=True)
class BrokerConfig:
    kind: BrokerKind = setting(
        BrokerKind.AUTO, key="type", doc="paper, alpaca, or auto: alpaca when API keys are set, else paper."
    )
    paper_starting_cash: Decimal = setting(
        Decimal(100_000), key="paperStartingCash", doc="Cash of the paper account.", unit="USD", validator=_positive
    )
    paper_fill_parts: int = setting(
        1, key="paperFillParts", doc="Paper exchange: fill each order in this many parts.", validator=_positive
    )
    paper_calendar: PaperCalendar = setting(
        PaperCalendar.NYSE,
        key="paperCalendar",
        doc="Paper exchange: nyse opens and closes by the NYSE calendar (holidays, early closes); always-open: demos.",
    )
    paper_price_walk: bool = setting(
        True,
        key="paperPriceWalk",
        doc="Paper exchange: prices take a seeded random walk; false holds them still (set by PUT /paper/prices).",
    )
    paper_volatility_bp: int = setting(
        10,
        key="paperVolatility",
        unit="bp",
        doc="Paper exchange: the largest move of one step of the walk, in basis points of the price (at least a cent).",
        validator=_non_negative,
    )
    paper_price_interval_ms: int = setting(
        1_000,
        key="paperPriceInterval",
        unit="ms",
        doc="Paper exchange: time between two steps of the walk.",
        validator=_positive,
    )
    paper_seed: int = setting(0, key="paperSeed", doc="Paper exchange: seed of the price walk, to replay a run.")
    paper_history_days: int = setting(
        0,
        key="paperHistoryDays",
        doc="Paper exchange: trading days of made-up bars before the start (its walk run backward); 0: none.",
        validator=_non_negative,
    )


@attrs.frozen(kw_only=True)
class AlpacaConfig:
    base_url: str = setting(
        "https://paper-api.alpaca.markets", key="baseUrl", env=("ALPACA_BASE_URL",), doc="Trading API."
    )
    api_key: Secret | None = setting(None, key="apiKey", env=("ALPACA_API_KEY",), doc="API key id.")
    secret_key: Secret | None = setting(None, key="secretKey", env=("ALPACA_SECRET_KEY",), doc="API secret key.")
    data_url: str = setting(
        "https://data.alpaca.markets",
        key="dataUrl",
        env=("ALPACA_DATA_URL",),
        doc="Data API: quotes, bars and snapshots (its own request budget, 200 a minute).",
    )
    read_timeout_ms: int = setting(
        10_000,
        key="readTimeout",
        doc="How long a request to Alpaca waits for its answer; an order left unanswered is in doubt.",
        unit="ms",
        validator=_positive,
    )
    feed: str = setting(
        "iex",
        key="feed",
        env=("ALPACA_DATA_FEED",),
        doc="Market-data feed of quotes, bars and snapshots: iex (free) or sip (subscription).",
        validator=check(lambda v: v in ("iex", "sip"), "iex or sip"),
    )
    quote_max_age_ms: int = setting(
        5_000,
        key="quoteMaxAge",
        unit="ms",
        doc="Age beyond which a quote the market-data stream no longer keeps current is read again over REST.",
        validator=_non_negative,
    )

    @property
    def has_keys(self) -> bool:
        return self.api_key is not None and self.secret_key is not None


def _risk_field(default: Any, key: str, doc: str, validator: Any = None, unit: str = "") -> Any:
    return setting(default, key=key, doc=doc, unit=unit, validator=validator)


@attrs.frozen(kw_only=True)
class RiskConfig:
    max_position_size_percent: Decimal = _risk_field(
        Decimal(10),
        "maxPositionSizePercent",
        "Largest position, % of equity, counting our open orders as if they filled.",
        _percent,
        "%",
    )
    max_sector_exposure_percent: Decimal = _risk_field(
        Decimal(30),
        "maxSectorExposurePercent",
        "Largest exposure to one sector, % of equity, open orders included. Only where the broker names "
        "sectors: the paper exchange does, for each listing; Alpaca's assets carry none, so through the "
        "Alpaca adapter this limit does not apply.",
        _percent,
        "%",
    )
    max_daily_loss_percent: Decimal = _risk_field(
        Decimal(3), "maxDailyLossPercent", "Loss since the last close that stops new exposure.", _percent, "%"
    )
    max_open_positions: int = _risk_field(
        20, "maxOpenPositions", "Most positions open at once; a symbol with open orders counts as one.", _positive
    )
    enable_wash_trade_protection: bool = _risk_field(True, "enableWashTradeProtection", "Refuse likely wash trades.")
    enable_day_trade_budget: bool = _risk_field(True, "enableDayTradeBudget", "Limit day trades under the threshold.")
    max_day_trades: int = _risk_field(3, "maxDayTrades", "Day trades allowed in the window.", _positive)
    day_trade_window_days: int = _risk_field(5, "dayTradeWindowDays", "Business days in the window.", _positive)
    day_trade_equity_threshold: Decimal = _risk_field(
        Decimal(25_000), "dayTradeEquityThreshold", "Equity at which the budget stops applying.", _positive, "USD"
    )
    stop_loss_percent: Decimal | None = _risk_field(
        None,
        "stopLossPercent",
        "When set, every opening order without exits goes with a stop-loss this far from its entry price; "
        "should it end in part filled, the engine protects the filled part itself.",
        _below_hundred,
        "%",
    )
    take_profit_percent: Decimal | None = _risk_field(
        None,
        "takeProfitPercent",
        "When set, every opening order without exits goes with a take-profit this far from its entry price.",
        _positive,
        "%",
    )

    def limits(self) -> RiskLimits:
        return RiskLimits(**attrs.asdict(self))


@attrs.frozen(kw_only=True)
class OrdersConfig:
    market_closed_policy: MarketClosedPolicy = setting(
        MarketClosedPolicy.REJECT, key="marketClosedPolicy", doc="reject or queue market orders while closed."
    )
    cancel_on_shutdown: bool = setting(True, key="cancelOnShutdown", doc="Cancel open orders on a graceful stop.")


@attrs.frozen(kw_only=True)
class SyncConfig:
    position_sync_interval_ms: int = setting(
        30_000, key="positionSyncInterval", doc="Position sync period.", unit="ms", validator=_positive
    )
    order_status_poll_interval_ms: int = setting(
        5_000, key="orderStatusPollInterval", doc="Open order poll period.", unit="ms", validator=_positive
    )
    in_doubt_window_ms: int = setting(
        60_000,
        key="inDoubtWindow",
        doc="How long an unanswered order stays pending before the broker's order list may prove it absent.",
        unit="ms",
        validator=_positive,
    )
    account_sync_interval_ms: int = setting(
        60_000,
        key="accountSyncInterval",
        doc="Longest time between two reads of the broker's account; between them our fills, holds and marks move it.",
        unit="ms",
        validator=_positive,
    )
    snapshot_interval_ms: int = setting(
        60_000,
        key="snapshotInterval",
        doc="How often the portfolio's value (equity, cash, exposure, realized, unrealized) is snapshotted "
        "beside each fill's snapshot; kept in the store for GET /api/v1/account/history.",
        unit="ms",
        validator=_positive,
    )


_DEFAULT_SUBSCRIPTIONS: Final = (
    "ai-trader.ai.decision.generated",
    "ai-trader.market.session.*",
    "ai-trader.system.shutdown",
)


@attrs.frozen(kw_only=True)
class EventBusConfig:
    url: str | None = setting(None, key="url", env=("NATS_URL",), doc="NATS server; unset: embedded NATS.")
    publish_prefix: str = setting("ai-trader.trade", key="publishPrefix", doc="Subject prefix of published events.")
    subscriptions: tuple[str, ...] = setting(_DEFAULT_SUBSCRIPTIONS, key="subscriptions", doc="Command subjects.")
    events_stream: str = setting("AI_TRADER_TRADE", key="eventsStream", doc="JetStream stream of events.")
    commands_stream: str = setting("AI_TRADER_COMMANDS", key="commandsStream", doc="JetStream stream of commands.")
    consumer: str = setting("trading-engine", key="consumer", doc="Durable consumer (and queue group) name.")


@attrs.frozen(kw_only=True)
class DatabaseConfig:
    url: Secret | None = setting(
        None, key="url", env=("DATABASE_URL",), doc="PostgreSQL URL; unset: embedded PostgreSQL."
    )
    pool_size: int = setting(
        32,
        key="poolSize",
        doc="Connections at most, opened as needed; a request holds one at a time.",
        validator=_positive,
    )
    connect_timeout_ms: int = setting(
        5_000,
        key="connectTimeout",
        doc="How long a request waits for a connection before answering 503 STORE_ERROR.",
        unit="ms",
        validator=_positive,
    )
    migrate: bool = setting(True, key="migrate", doc="Apply pending migrations at start.")
    outbox_retention_hours: int = setting(
        168,
        key="outboxRetention",
        doc="Keep published events in the outbox this long, then prune them; 0 keeps them forever.",
        unit="h",
        validator=_non_negative,
    )


@attrs.frozen(kw_only=True)
class EmbeddedConfig:
    data_dir: Path = setting(Path(".data"), key="dataDir", doc="Folder of embedded PostgreSQL and NATS data.")
    nats: bool = setting(True, key="nats", doc="Start an embedded NATS when eventBus.url is unset.")


@attrs.frozen(kw_only=True)
class LoggingConfig:
    level: str = setting("info", key="level", env=("LOG_LEVEL",), doc="debug, info, warning or error.")
    format: LogFormat = setting(
        LogFormat.AUTO, key="format", env=("LOG_FORMAT",), doc="json, text, or auto (text on a terminal)."
    )

    def __attrs_post_init__(self) -> None:
        if self.level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError("level", f"must be debug, info, warning or error, was {self.level!r}")


SECTIONS: Final[dict[str, tuple[str, type[Any]]]] = {
    "server": ("server", ServerConfig),
    "api": ("api", ApiConfig),
    "broker": ("broker", BrokerConfig),
    "alpaca": ("alpaca", AlpacaConfig),
    "risk": ("risk", RiskConfig),
    "orders": ("orders", OrdersConfig),
    "sync": ("sync", SyncConfig),
    "eventBus": ("event_bus", EventBusConfig),
    "database": ("database", DatabaseConfig),
    "embedded": ("embedded", EmbeddedConfig),
    "logging": ("logging", LoggingConfig),
}
"""Section key in the file -> (attribute of Settings, its class)."""


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
