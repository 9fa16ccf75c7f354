"""The simulator as one ASGI app: Alpaca's REST API under `/v2`, the stream at `/stream`, controls under `/_sim`,
and the market-data stream at `/v2/{iex,sip,test}`.

A `/v2` request goes through, in order: the rate limit (per presented key), authentication, the
request fault rules, the route's handler; then the exchange's trade updates go to the stream, and
the answer goes out with the rate-limit headers. A refusal (4xx) changes nothing. Market-data
requests (`/v2/stocks/...`) count against their own limit, as at Alpaca.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from apps.alpaca_sim import (
    account,
    activities,
    bars,
    controls,
    data_stream,
    errors,
    market_data,
    orders,
    positions,
    sessions,
)
from apps.alpaca_sim.asgi import (
    Receive,
    Request,
    Response,
    Router,
    Scope,
    Send,
    error_response,
    read_request,
    same_secret,
    send_response,
)
from apps.alpaca_sim.faults import RequestFaults
from apps.alpaca_sim.simulation import SimSettings, Simulation
from trading_core.clock import Clock
from trading_core.errors import TradingError

_log = logging.getLogger(__name__)
_ORDER = r"/v2/orders/(?P<order_id>[^/]+)"
_POSITION = r"/v2/positions/(?P<symbol_or_asset_id>[^/]+)"
_DATA_API = "/v2/stocks/"


def api_router() -> Router:
    routes = Router()
    routes.add("GET", "/v2/account", account.get_account)
    routes.add("GET", "/v2/account/activities", activities.list_activities)
    routes.add("GET", r"/v2/account/activities/(?P<activity_type>[^/]+)", activities.list_activities)
    routes.add("GET", "/v2/clock", account.get_clock)
    routes.add("GET", "/v2/calendar", account.get_calendar)
    routes.add("GET", "/v2/assets", account.list_assets)
    routes.add("GET", r"/v2/assets/(?P<symbol_or_asset_id>[^/]+)", account.get_asset)
    routes.add("POST", "/v2/orders", orders.submit)
    routes.add("GET", "/v2/orders", orders.list_orders)
    routes.add("DELETE", "/v2/orders", orders.cancel_all)
    routes.add("GET", "/v2/orders:by_client_order_id", orders.by_client_order_id)
    routes.add("GET", _ORDER, orders.get_order)
    routes.add("PATCH", _ORDER, orders.replace)
    routes.add("DELETE", _ORDER, orders.cancel)
    routes.add("GET", "/v2/positions", positions.list_positions)
    routes.add("DELETE", "/v2/positions", positions.close_all)
    routes.add("GET", _POSITION, positions.get_position)
    routes.add("DELETE", _POSITION, positions.close_position)
    routes.add("GET", r"/v2/stocks/trades/latest", market_data.latest_trades)
    routes.add("GET", r"/v2/stocks/quotes/latest", market_data.latest_quotes)
    routes.add("GET", r"/v2/stocks/(?P<symbol>[^/]+)/trades/latest", market_data.latest_trade)
    routes.add("GET", r"/v2/stocks/(?P<symbol>[^/]+)/quotes/latest", market_data.latest_quote)
    routes.add("GET", "/v2/stocks/bars", bars.many_bars)
    routes.add("GET", "/v2/stocks/snapshots", bars.snapshots)
    routes.add("GET", r"/v2/stocks/(?P<symbol>[^/]+)/bars", bars.symbol_bars)
    routes.add("GET", r"/v2/stocks/(?P<symbol>[^/]+)/snapshot", bars.snapshot)
    return routes


class SimulatorApp:
    """The ASGI application; `sim` is its state (one paper account).

    Args:
        settings: Keys, rate limit and the paper exchange's configuration.
        clock: Where the exchange's timestamps come from (the wall clock by default).
    """

    def __init__(self, settings: SimSettings, *, clock: Clock | None = None) -> None:
        self.sim = Simulation(settings, clock=clock)
        self._api = api_router()
        self._controls = controls.router()
        self._sessions: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            if scope["path"] in data_stream.PATHS:
                await self.sim.market.serve(scope, receive, send)
            else:
                await self.sim.hub.serve(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._sessions = asyncio.get_running_loop().create_task(sessions.run(self.sim))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._sessions is not None:
                    self._sessions.cancel()
                await self.sim.hub.drop_all(1001)
                await self.sim.market.drop_all()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = await read_request(scope, receive)
        path = request.path
        if path.startswith("/v2/") or path == "/v2":
            await self._api_call(request, send)
        elif path.startswith("/_sim/"):
            await send_response(send, await self._dispatch(self._controls, request))
        else:
            await send_response(send, error_response(errors.not_found("endpoint not found")))

    async def _api_call(self, request: Request, send: Send) -> None:
        sim = self.sim
        sim.traffic.request(self._api.name(request.method, request.path))
        limiter = sim.limiter
        if request.path.startswith(_DATA_API):  # the data API has its own limit, as at Alpaca
            sim.market.requests += 1
            limiter = sim.market.limiter
        verdict = limiter.hit(request.headers.get("apca-api-key-id", ""))
        extra = verdict.headers() if verdict is not None else ()
        faults = RequestFaults()
        if verdict is not None and not verdict.allowed:
            sim.traffic.rate_limited += 1
            response = error_response(errors.rate_limited())
        elif not self._authorized(request.headers):
            response = error_response(errors.unauthorized())
        else:
            faults = sim.faults.for_request(request.method, request.path)
            if faults.status is not None:
                response = error_response(errors.status_error(faults.status))
            elif faults.refusal is not None:
                response = error_response(faults.refusal)
            elif faults.later_ms is not None:  # accept_later: the request reaches the exchange later
                sim.later(faults.later_ms, lambda: self._dispatch(self._api, request))
                response = error_response(errors.status_error(faults.later_status or 504))
            else:
                response = await self._dispatch(self._api, request)
                if faults.accept_then_status is not None:
                    response = error_response(errors.status_error(faults.accept_then_status))
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.accept_then_drop:
            await _drop_connection(send)
            return
        await send_response(send, response, extra)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        settings = self.sim.settings
        return same_secret(headers.get("apca-api-key-id"), settings.key_id) and same_secret(
            headers.get("apca-api-secret-key"), settings.secret_key
        )

    async def _dispatch(self, routes: Router, request: Request) -> Response:
        """Run the route's handler; map every refusal to Alpaca's error answer; publish trade updates."""
        try:
            self.sim.follow_calendar()  # an open or close whose instant has come happens first
            handler, params = routes.find(request.method, request.path)
            return await handler(self.sim, request, **params)
        except errors.AlpacaError as e:
            return error_response(e)
        except TradingError as e:
            return error_response(errors.from_trading_error(e))
        except Exception:
            _log.exception("%s %s failed", request.method, request.path)
            return error_response(errors.status_error(500))
        finally:
            self.sim.publish()


def create_app(settings: SimSettings | None = None, *, clock: Clock | None = None) -> SimulatorApp:
    """The simulator's ASGI app (REST and WebSocket on one port)."""
    return SimulatorApp(settings or SimSettings(), clock=clock)


async def _drop_connection(send: Send) -> None:
    """Close the connection without an answer (uvicorn's request cycle exposes its transport)."""
    transport: Any = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("accept_then_drop: the server does not expose its connection")
    transport.close()
    for _ in range(3):
        await asyncio.sleep(0)  # let the server see the connection lost, so it sends nothing itself
