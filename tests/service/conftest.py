"""The service in process: the real Litestar app over in-memory adapters and the paper exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import pytest
from litestar.testing import AsyncTestClient

from adapters.codec import event_payload
from adapters.memory import InMemoryEventBus, InMemoryOrderStore
from adapters.paper import PaperExchange
from apps.bootstrap import build
from apps.config import Settings, parse_settings
from apps.container import Container
from apps.service.app import create_app
from trading_core.clock import SystemClock

STILL_MARKET = {
    "TRADING_ENGINE_BROKER_PAPER_PRICE_WALK": "false",
    "TRADING_ENGINE_BROKER_PAPER_CALENDAR": "always-open",
}
"""Tests count on fixed prices and an open market: the paper exchange's walk and calendar turned off."""


def settings_with(**env: str) -> Settings:
    """Defaults, prices held still and the market always open, plus environment overrides, read from
    `env` only (never the test runner's)."""
    return parse_settings(None, {**STILL_MARKET, **env})


@pytest.fixture
def exchange() -> PaperExchange:
    return PaperExchange(SystemClock())


@pytest.fixture
def bus() -> InMemoryEventBus:
    return InMemoryEventBus()


def container_for(settings: Settings, exchange: PaperExchange, bus: InMemoryEventBus) -> Container:
    return build(
        settings,
        store=InMemoryOrderStore(payload_of=event_payload),
        broker=exchange,
        bus=bus,
        clock=SystemClock(),
    )


@pytest.fixture
def settings() -> Settings:
    return settings_with()


@pytest.fixture
async def api(
    settings: Settings, exchange: PaperExchange, bus: InMemoryEventBus
) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(container_for(settings, exchange, bus))
    async with AsyncTestClient(app) as client:
        yield client


def conforms(body: Any, schema: dict[str, Any]) -> Any:
    """Validate `body` against a spec shape and return it (so a test can go on reading it)."""
    jsonschema.validate(body, schema)
    return body
