"""No URL's credentials are shown, whichever setting the URL comes from: config check, logs, /health, errors."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.config import LogFormat, LoggingConfig
from apps.logs import configure_logging
from apps.redact import mask
from apps.service.app import create_app
from tests.service.conftest import container_for, settings_with
from trading_core.clock import SystemClock
from trading_core.errors import BrokerError

SRC = Path(__file__).parents[2] / "src"
SECRET = "pa55-w0rd"

URLS = {
    "DATABASE_URL": f"postgresql://trader:{SECRET}@db.internal:5432/trading",
    "NATS_URL": f"nats://trader:{SECRET}@nats.internal:4222",
    "ALPACA_BASE_URL": f"https://key:{SECRET}@paper-api.alpaca.markets",
    "ALPACA_DATA_URL": f"https://key:{SECRET}@data.alpaca.markets",
}


def _config_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "apps.cli", "config", "check"]
    return subprocess.run(command, capture_output=True, text=True, env={"PYTHONPATH": str(SRC), **env}, check=False)


@pytest.mark.parametrize("variable", sorted(URLS))
def test_config_check_masks_the_password_of_every_url(variable: str) -> None:
    run = _config_check({variable: URLS[variable]})

    assert run.returncode == 0, run.stderr
    assert SECRET not in run.stdout + run.stderr
    assert URLS[variable].replace(SECRET, "***") in run.stdout  # the rest is shown, to be checked


def test_config_check_masks_a_nats_token_and_every_url_of_a_list() -> None:
    run = _config_check({"NATS_URL": f"nats://{SECRET}@a:4222,nats://u:{SECRET}@b:4222"})

    assert (run.returncode, SECRET in run.stdout + run.stderr) == (0, False)
    assert "nats://***@a:4222,nats://u:***@b:4222" in run.stdout


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("NATS_URL", f"nats://u:{SECRET}@nats.internal:42x2"),
        ("DATABASE_URL", f"postgresql://u:{SECRET}@db:5432x/trading"),
        ("ALPACA_BASE_URL", "https://paper-api.alpaca.markets:99999"),
        ("ALPACA_DATA_URL", "https://data.alpaca.markets:port"),
    ],
)
def test_config_check_refuses_a_malformed_port_without_showing_the_password(variable: str, url: str) -> None:
    run = _config_check({variable: url})

    assert run.returncode == 2
    assert "port" in run.stderr
    assert SECRET not in run.stdout + run.stderr


@pytest.mark.parametrize("url", sorted(URLS.values()))
@pytest.mark.parametrize("log_format", [LogFormat.JSON, LogFormat.TEXT])
def test_no_log_line_shows_a_password(url: str, log_format: LogFormat) -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="info", format=log_format), stream=stream)
    log = logging.getLogger("tests.secrets")

    log.warning("cannot connect to %s", url)
    log.info("connecting", extra={"url": url})
    try:
        raise ConnectionError(f"refused by {url}")
    except ConnectionError:
        log.exception("failed")

    assert SECRET not in stream.getvalue()
    assert stream.getvalue().count("***@") >= 2  # the message and the traceback (and the extra, in JSON)


def test_httpx_request_lines_are_debug() -> None:
    stream = io.StringIO()
    transport = httpx.MockTransport(lambda request: httpx.Response(200))

    configure_logging(LoggingConfig(level="info", format=LogFormat.JSON), stream=stream)
    with httpx.Client(transport=transport) as client:
        client.get("http://alpaca.test/v2/clock")
    at_info = stream.getvalue()
    configure_logging(LoggingConfig(level="debug", format=LogFormat.JSON), stream=stream)
    with httpx.Client(transport=transport) as client:
        client.get("http://alpaca.test/v2/clock")
    at_debug = [json.loads(line) for line in stream.getvalue().splitlines() if "HTTP Request" in line]

    assert "HTTP Request" not in at_info
    assert [(line["logger"], line["level"]) for line in at_debug] == [("httpx", "debug")]


def test_a_librarys_warning_is_a_json_line() -> None:
    import warnings

    stream = io.StringIO()
    with warnings.catch_warnings():  # pytest records warnings itself: let the service's setup take them here
        warnings.simplefilter("always")
        logging.captureWarnings(False)  # forget an earlier test's capture, undone by pytest since
        configure_logging(LoggingConfig(level="info", format=LogFormat.JSON), stream=stream)
        warnings.warn("XDG_RUNTIME_DIR is not set", RuntimeWarning, stacklevel=1)

    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert (line["logger"], line["level"]) == ("py.warnings", "warning")
    assert "XDG_RUNTIME_DIR" in line["message"]


@pytest.mark.parametrize("url", sorted(URLS.values()))
async def test_health_and_error_answers_mask_every_url(url: str) -> None:
    exchange = PaperExchange(SystemClock())
    app = create_app(container_for(settings_with(), exchange, InMemoryEventBus()))

    async def failing() -> str:
        return f"disconnected from {url}"

    async def broker_down(*_: Any, **__: Any) -> Any:
        raise BrokerError(f"cannot reach {url}", details={"url": url})

    async with AsyncTestClient(app) as client:
        app.state.health_checks = {**app.state.health_checks, "alpaca": failing}
        health = await client.get("/health")
        exchange.get_account = broker_down  # type: ignore[method-assign]
        error = await client.get("/api/v1/account")

    assert (health.status_code, error.status_code) == (503, 502)
    assert SECRET not in health.text + error.text
    assert mask(url) in health.text
    assert mask(url) in error.text


def test_masking_keeps_what_is_not_a_secret() -> None:
    assert mask("postgresql://postgres@127.0.0.1:5432/test") == "postgresql://postgres@127.0.0.1:5432/test"
    assert mask("host=db user=app password=x1 dbname=t") == "host=db user=app password=*** dbname=t"
    assert mask(f"nats://u:p@ss{SECRET}@h:1") == "nats://u:***@h:1"
