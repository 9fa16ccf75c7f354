"""The Litestar application: routes, the one exception handler, exact JSON, auth, metrics and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, OpenAPIType, SecurityScheme

from apps.config import Settings
from apps.container import Container
from apps.service.auth import BearerTokenGuard
from apps.service.codec import DecimalSchemaPlugin, ExactRequest, ExactResponse
from apps.service.controllers import (
    AccountController,
    OperationsController,
    OrdersController,
    PositionsController,
    RiskController,
)
from apps.service.errors import handle_exception
from apps.service.metrics import TradingMetrics
from trading_core.engine import TradingEngine

log = logging.getLogger("apps.service")

API_VERSION = "1.0.0"


def _engine(state: State) -> TradingEngine:
    container: Container = state.container
    return container.engine


def _openapi(secured: bool) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Trading Engine",
        version=API_VERSION,
        description="Orders, positions, account and pre-trade risk over the broker. Amounts are exact JSON numbers.",
        path="/schema",
        render_plugins=[ScalarRenderPlugin()],
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")} if secured else None
        ),
        security=[{"bearer": []}] if secured else None,
    )


MAX_BODY_BYTES: Final = 64 * 1024
"""The largest request body taken (413 beyond): every request of this API fits in a kilobyte, and
reading a large one costs CPU time that other orders wait for."""


def create_app(target: Settings | Container) -> Litestar:
    """The service for `target`: settings (adapters chosen by `apps.bootstrap`) or a ready container."""
    if isinstance(target, Settings):
        from apps.bootstrap import build

        container = build(target)
    else:
        container = target
    metrics = TradingMetrics()
    container.listeners.append(metrics.on_event)
    token = container.settings.api.token

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await container.open()
        app.state.health_checks = container.health_checks
        log.info("ready: %s", container.describe())
        try:
            yield
        finally:
            await container.close()
            log.info("stopped")

    guards: list[Any] = [BearerTokenGuard(token.reveal())] if token is not None else []
    app = Litestar(
        route_handlers=[OrdersController, PositionsController, AccountController, RiskController, OperationsController],
        dependencies={"engine": Provide(_engine, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
        request_class=ExactRequest,
        request_max_body_size=MAX_BODY_BYTES,
        response_class=ExactResponse,
        guards=guards,
        middleware=[metrics.middleware],
        lifespan=[lifespan],
        openapi_config=_openapi(secured=token is not None),
        plugins=[DecimalSchemaPlugin()],
        state=State({"container": container, "metrics": metrics, "health_checks": {}}),
        logging_config=None,  # `apps.logs` configures logging once, for every library
        debug=False,
    )
    _mark_optional_bodies(app)
    return app


def _mark_optional_bodies(app: Litestar) -> None:
    """A body typed `X | None` may be left out; Litestar documents every body as required."""
    for item in (app.openapi_schema.paths or {}).values():
        for operation in (item.delete, item.post, item.patch, item.put):
            body = getattr(operation, "request_body", None)
            if body is None or not body.content:
                continue
            schema = next(iter(body.content.values())).schema
            options = getattr(schema, "one_of", None) or []
            if any(getattr(o, "type", None) == OpenAPIType.NULL for o in options):
                body.required = False
