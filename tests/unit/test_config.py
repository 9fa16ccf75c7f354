"""Settings: the spec's file shape, `${VAR:default}`, environment overrides, and errors naming the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from apps.config import BrokerKind, ConfigError, Secret, load_settings, parse_settings
from apps.config_parse import env_name

SPEC_FILE = """
trading-engine:
  server:
    port: 3001
    host: "0.0.0.0"
  alpaca:
    baseUrl: ${ALPACA_BASE_URL:https://paper-api.alpaca.markets}
    apiKey: ${ALPACA_API_KEY}
    secretKey: ${ALPACA_SECRET_KEY}
    dataUrl: ${ALPACA_DATA_URL:https://data.alpaca.markets}
  risk:
    maxPositionSizePercent: 10
    maxSectorExposurePercent: 30
    maxDailyLossPercent: 3
    maxOpenPositions: 20
    enableWashTradeProtection: true
  sync:
    positionSyncInterval: 30000  # 30 seconds
    orderStatusPollInterval: 5000  # 5 seconds
  eventBus:
    url: ${NATS_URL}
    publishPrefix: "ai-trader.trade"
    subscriptions:
      - "ai-trader.ai.decision.generated"
      - "ai-trader.market.session.*"
"""


def test_the_spec_example_file_is_read_as_written() -> None:
    settings = parse_settings(SPEC_FILE, {})

    assert settings.server.host == "0.0.0.0"
    assert settings.alpaca.base_url == "https://paper-api.alpaca.markets"
    assert settings.alpaca.api_key is None
    assert settings.event_bus.url is None
    assert settings.event_bus.subscriptions == ("ai-trader.ai.decision.generated", "ai-trader.market.session.*")
    assert settings.sync.position_sync_interval_ms == 30_000
    assert settings.risk.max_open_positions == 20
    assert settings.broker_kind is BrokerKind.PAPER


def test_variables_are_substituted_and_keys_turn_alpaca_on() -> None:
    env = {"ALPACA_API_KEY": "key", "ALPACA_SECRET_KEY": "secret", "NATS_URL": "nats://bus:4222"}

    settings = parse_settings(SPEC_FILE, env)

    assert settings.alpaca.api_key == Secret("key")
    assert settings.event_bus.url == "nats://bus:4222"
    assert settings.broker_kind is BrokerKind.ALPACA


def test_the_environment_overrides_the_file() -> None:
    env = {
        "PORT": "3002",
        env_name("risk", "maxOpenPositions"): "5",
        "TRADING_ENGINE_RISK_MAX_DAILY_LOSS_PERCENT": "2.5",
    }

    settings = parse_settings(SPEC_FILE, env)

    assert settings.server.port == 3002
    assert settings.risk.max_open_positions == 5
    assert settings.risk.max_daily_loss_percent == Decimal("2.5")


def test_the_alpaca_read_timeout_is_configurable_and_defaults_to_ten_seconds() -> None:
    assert parse_settings(SPEC_FILE, {}).alpaca.read_timeout_ms == 10_000
    settings = parse_settings(SPEC_FILE, {"TRADING_ENGINE_ALPACA_READ_TIMEOUT": "2000"})
    assert settings.alpaca.read_timeout_ms == 2000
    with pytest.raises(ConfigError, match="readTimeout"):
        parse_settings(SPEC_FILE, {"TRADING_ENGINE_ALPACA_READ_TIMEOUT": "0"})


def test_decimal_settings_never_pass_through_float() -> None:
    text = "trading-engine:\n  risk:\n    maxDailyLossPercent: 0.1\n    maxPositionSizePercent: 12.35\n"

    risk = parse_settings(text, {}).risk

    assert risk.max_daily_loss_percent == Decimal("0.1")
    assert risk.max_position_size_percent == Decimal("12.35")
    assert str(risk.max_position_size_percent) == "12.35"


def _in(section: str, line: str) -> str:
    return f"trading-engine:\n  {section}:\n    {line}\n"


@pytest.mark.parametrize(
    ("text", "env", "key"),
    [
        ("trading-engine:\n  risk:\n    maxOpenPosition: 3\n", {}, "trading-engine.risk.maxOpenPosition"),
        ("trading-engine:\n  rsik: {}\n", {}, "trading-engine.rsik"),
        ("trading-engine:\n  server:\n    port: abc\n", {}, "trading-engine.server.port"),
        ("trading-engine:\n  server:\n    port: 70000\n", {}, "trading-engine.server.port"),
        (
            "trading-engine:\n  risk:\n    maxPositionSizePercent: 150\n",
            {},
            "trading-engine.risk.maxPositionSizePercent",
        ),
        (
            "trading-engine:\n  sync:\n    orderStatusPollInterval: 0\n",
            {},
            "trading-engine.sync.orderStatusPollInterval",
        ),
        ("trading-engine:\n  orders:\n    marketClosedPolicy: wait\n", {}, "trading-engine.orders.marketClosedPolicy"),
        (
            "trading-engine:\n  risk:\n    enableWashTradeProtection: maybe\n",
            {},
            "trading-engine.risk.enableWashTradeProtection",
        ),
        ("other-service: {}\n", {}, "config.yaml"),
        (None, {"PORT": "x"}, "trading-engine.server.port (from $PORT)"),
        (None, {"TRADING_ENGINE_RISK_MAX_OPEN_POSITION": "3"}, "$TRADING_ENGINE_RISK_MAX_OPEN_POSITION"),
        ("trading-engine:\n  database:\n    outboxRetention: -1\n", {}, "trading-engine.database.outboxRetention"),
    ],
)
def test_a_bad_key_or_value_is_refused_naming_the_key(text: str | None, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(text, env, source="config.yaml")

    assert raised.value.key == key
    assert str(raised.value).startswith(key)


def test_secrets_never_show_in_a_repr() -> None:
    env = {"ALPACA_SECRET_KEY": "topsecret", "TRADING_API_TOKEN": "tok3n", "DATABASE_URL": "postgresql://u:pw@h/db"}

    shown = repr(parse_settings(None, env))

    assert "topsecret" not in shown
    assert "tok3n" not in shown
    assert "pw@" not in shown


def test_no_file_means_the_defaults_and_loopback(tmp_path: Path) -> None:
    settings = load_settings(env={})

    assert settings.server.port == 3001
    assert settings.server.host == "127.0.0.1"
    assert settings.source == "defaults"


def test_the_file_comes_from_the_environment_when_not_given(tmp_path: Path) -> None:
    file = tmp_path / "engine.yaml"
    file.write_text("trading-engine:\n  server:\n    port: 4000\n")

    assert load_settings(env={"TRADING_ENGINE_CONFIG": str(file)}).server.port == 4000


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(tmp_path / "absent.yaml", env={})


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"TRADING_ENGINE_BROKER_TYPE": "alpaca"}, "trading-engine.broker.type"),
        ({"TRADING_ENGINE_BROKER_TYPE": "alpaca", "ALPACA_API_KEY": "k"}, "trading-engine.broker.type"),
        ({"DATABASE_URL": "mysql://x"}, "trading-engine.database.url"),
        ({"NATS_URL": "http://x"}, "trading-engine.eventBus.url"),
        ({"NATS_URL": "nats://a:4222, http://b"}, "trading-engine.eventBus.url"),
    ],
)
def test_settings_the_service_could_not_start_with_are_configuration_errors(env: dict[str, str], where: str) -> None:
    with pytest.raises(ConfigError) as raised:  # `config check` says so, and `serve` exits 2 with one line
        load_settings(env=env)

    assert str(raised.value).startswith(where)


def test_urls_of_each_accepted_kind_pass() -> None:
    env = {
        "DATABASE_URL": "host=127.0.0.1 dbname=test user=postgres",
        "NATS_URL": "nats://a:4222,tls://b:4222",
        "TRADING_ENGINE_BROKER_TYPE": "alpaca",
        "ALPACA_API_KEY": "k",
        "ALPACA_SECRET_KEY": "s",
    }

    assert load_settings(env=env).broker_kind.value == "alpaca"
    assert load_settings(env={"DATABASE_URL": "postgres://u@h/db"}).database.url is not None


def test_the_quote_stream_settings_default_to_iex_and_five_seconds_and_are_checked() -> None:
    default = parse_settings(SPEC_FILE, {}).alpaca
    chosen = parse_settings(SPEC_FILE, {"ALPACA_DATA_FEED": "sip", env_name("alpaca", "quoteMaxAge"): "250"}).alpaca

    assert (default.feed, default.quote_max_age_ms) == ("iex", 5_000)
    assert (chosen.feed, chosen.quote_max_age_ms) == ("sip", 250)
    with pytest.raises(ConfigError, match=r"alpaca\.feed"):
        parse_settings(SPEC_FILE, {"ALPACA_DATA_FEED": "otc"})
