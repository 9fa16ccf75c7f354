"""The Litestar application: routes, the one exception handler, exact JSON, auth, metrics and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler, Message, Send

from apps.config import BrokerKind, Settings
from apps.container import Container
from apps.service import docs_page, openapi
from apps.service.auth import PUBLIC, BearerTokenGuard
from apps.service.codec import DecimalSchemaPlugin, ExactRequest, ExactResponse, decode_number, is_number_type
from apps.service.console_page import console_router
from apps.service.controllers import (
    AccountController,
    OperationsController,
    OrdersController,
    PositionsController,
    RiskController,
)
from apps.service.controllers.events import EventsController
from apps.service.controllers.history import AccountHistoryController, FillsController, PositionHistoryController
from apps.service.controllers.market import MarketController
from apps.service.controllers.paper import PaperController
from apps.service.errors import allow_header, handle_exception
from apps.service.event_stream import QUEUE_SIZE, EventFanout
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
        render_plugins=[docs_page.render_plugin()],
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")} if secured else None
        ),
        security=[{"bearer": []}] if secured else None,
    )


MAX_BODY_BYTES: Final = 64 * 1024
"""The largest request body taken (413 beyond): every request of this API fits in a kilobyte, and
reading a large one costs CPU time that other orders wait for."""


class TradingApp(Litestar):
    """Litestar, answering HEAD wherever GET is, and OPTIONS with every method of the path.

    HEAD runs the GET handler and sends its status and headers without the body (RFC 9110 asks a
    server to answer HEAD wherever it answers GET; a probe of `/health` often uses it). Litestar's
    own OPTIONS answer lists only the methods declared before it on the route; the `Allow` header
    is written here from the whole route.
    """

    allowed: dict[str, str]
    """Path template -> the `Allow` header of that path."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        method = scope.get("method") if scope["type"] == "http" else None
        if method == "HEAD":
            as_get: Any = {**scope, "method": "GET"}
            await super().__call__(as_get, receive, _without_body(send))
        elif method == "OPTIONS":
            await super().__call__(scope, receive, self._with_allow(scope, send))
        else:
            await super().__call__(scope, receive, send)

    def _with_allow(self, scope: Any, send: Send) -> Send:
        async def allow(message: Message) -> None:
            allowed = self.allowed.get(scope.get("path_template", ""))
            if message["type"] == "http.response.start" and allowed is not None:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allowed.encode())]}
            await send(message)

        return allow


def _without_body(send: Send) -> Send:
    async def head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return head


def create_app(target: Settings | Container, *, event_queue_size: int = QUEUE_SIZE) -> Litestar:
    """The service for `target`: settings (adapters chosen by `apps.bootstrap`) or a ready container.

    `event_queue_size` is how many events one event-stream client may fall behind before its
    stream ends with an `overflow` event (`apps.service.event_stream.QUEUE_SIZE` by default).
    """
    container = _container(target)
    metrics = TradingMetrics()
    container.listeners.append(metrics.on_event)
    container.drift_listeners.append(metrics.on_account_drift)
    fanout = EventFanout(event_queue_size)
    container.listeners.append(fanout)
    token = container.settings.api.token
    guards: list[Any] = [BearerTokenGuard(token.reveal())] if token is not None else []
    app = TradingApp(
        route_handlers=_route_handlers(container),
        dependencies={"engine": Provide(_engine, sync_to_thread=False)},
        exception_handlers={Exception: handle_exception},
        request_class=ExactRequest,
        request_max_body_size=MAX_BODY_BYTES,
        response_class=ExactResponse,
        guards=guards,
        middleware=[metrics.middleware],
        lifespan=[_lifespan(container)],
        openapi_config=_openapi(secured=token is not None),
        plugins=[DecimalSchemaPlugin()],
        type_decoders=[(is_number_type, decode_number)],
        state=State(
            {
                "container": container,
                "metrics": metrics,
                "event_fanout": fanout,
                "health_checks": {},
                "market_hours": "broker",
            }
        ),
        logging_config=None,  # `apps.logs` configures logging once, for every library
        debug=False,
    )
    openapi.finish(app.openapi_schema, public=_public_routes(app))
    app.allowed = {
        route.path_format: allow_header(route.methods) for route in app.routes if isinstance(route, HTTPRoute)
    }
    return app


def _container(target: Settings | Container) -> Container:
    """`target` itself, or the container `apps.bootstrap` builds from these settings."""
    if isinstance(target, Settings):
        from apps.bootstrap import build

        return build(target)
    return target


def _route_handlers(container: Container) -> list[ControllerRouterHandler]:
    """Every resource's controller, the console and the docs' assets; the paper prices only on the paper exchange."""
    return [
        OrdersController,
        FillsController,
        PositionHistoryController,
        PositionsController,
        AccountHistoryController,
        AccountController,
        MarketController,
        RiskController,
        OperationsController,
        EventsController,
        console_router(),
        docs_page.assets_router(),
        *([PaperController] if _on_paper(container) else []),
    ]


def _lifespan(container: Container) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Open the container before the app serves, close it after."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await container.open()
        app.state.health_checks = container.health_checks
        app.state.market_hours = container.market_hours
        log.info("ready: %s", container.describe())
        try:
            yield
        finally:
            await container.close()
            log.info("stopped")

    return lifespan


def _public_routes(app: Litestar) -> set[tuple[str, str]]:
    """The (method, path) pairs open without the token."""
    return {
        (str(method), route.path)
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if handler.opt.get(PUBLIC)
        for method in handler.http_methods
    }


def _on_paper(container: Container) -> bool:
    """Whether the broker is the paper exchange: the operator's price endpoint exists only then."""
    from adapters.paper import PaperExchange

    given = container.given_broker
    if given is not None:
        return isinstance(given, PaperExchange)
    return container.settings.broker_kind is BrokerKind.PAPER
