"""The configuration's sections: one frozen settings class per component, each key with its default and checks."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import attrs

from apps.config_parse import ConfigError, Secret, check, setting
from trading_core.engine import MarketClosedPolicy
from trading_core.risk import RiskLimits

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
