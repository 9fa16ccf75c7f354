"""The test controls under `/_sim`: reset, prices, the session, state, fault rules, the streams.

Unauthenticated, outside `/v2` (no rate limit, no fault rules), JSON in and out, decimals as
strings; every answer is `200 {"ok": true, ...}` or `4xx {"code", "message"}` (docs/alpaca-sim.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from apps.alpaca_sim import errors, parse, wire
from apps.alpaca_sim.asgi import Request, Response, Router, encoder, json_response
from apps.alpaca_sim.faults import parse_rules
from apps.alpaca_sim.simulation import EVERYTHING, Simulation
from trading_core.errors import InvalidOrder
from trading_core.ports import OrderFilter
from trading_core.values import price

_NUMBERS = encoder(decimals_as_numbers=True)
_MAX_STEPS = 100_000
_MAX_REFUSE = 3600


def _body(request: Request) -> dict[str, Any]:
    return parse.json_object(request.body) if request.body.strip() else {}


def _ok(**members: Any) -> Response:
    return json_response({"ok": True, **members})


async def reset(sim: Simulation, request: Request) -> Response:
    """`POST /_sim/reset {"cash": "100000", "seed": 0}`: a fresh exchange, faults cleared."""
    body = _body(request)
    config = sim.settings.paper
    cash = parse.decimal(body, "cash")
    if cash is not None:
        config = attrs.evolve(config, starting_cash=parse.positive(cash, "cash"))
    seed = body.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise errors.invalid("seed must be an integer")
        config = attrs.evolve(config, seed=seed)
    sim.reset(config)
    return _ok(cash=wire.dec(config.starting_cash), seed=config.seed)


async def set_price(sim: Simulation, request: Request) -> Response:
    """`POST /_sim/price {"symbol": "AAPL", "price": "101.25"}`: resting orders it crosses execute."""
    body = _body(request)
    symbol = parse.required_text(body, "symbol")
    asset = sim.resolve(symbol)
    if asset is None:
        raise errors.not_found(f"asset not found for {symbol}")
    given = parse.decimal(body, "price")
    if given is None:
        raise errors.invalid("price is required")
    try:
        new_price = price(parse.positive(given, "price"), field="price")
    except InvalidOrder as e:
        raise errors.invalid(e.message) from e
    sim.exchange.set_price(asset.symbol, new_price)
    return _ok(symbol=asset.symbol, price=wire.dec(new_price))


async def step(sim: Simulation, request: Request) -> Response:
    """`POST /_sim/step {"n": 1}`: every price takes `n` steps of the seeded random walk."""
    n = _body(request).get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX_STEPS:
        raise errors.invalid(f"n must be an integer from 1 to {_MAX_STEPS}")
    sim.exchange.step_prices(n)
    return _ok(prices={symbol: wire.dec(sim.exchange.price(symbol)) for symbol in sim.assets})


async def market(sim: Simulation, request: Request) -> Response:
    """`POST /_sim/market {"open": true}`: open, or close (day orders expire). Always-open mode only:
    while the session follows the calendar, 409 says so and nothing changes."""
    is_open = _body(request).get("open")
    if not isinstance(is_open, bool):
        raise errors.invalid("open must be true or false")
    if sim.sessions is not None:
        raise errors.conflict(
            f"the session follows the {sim.sessions.calendar.name} calendar and cannot be set by hand: "
            "start the simulator with --always-open (SimSettings(always_open=True)) to open and close it",
        )
    if is_open:
        sim.exchange.open_market()
    else:
        sim.close_market()
    return _ok(open=sim.exchange.is_open)


async def state(sim: Simulation, request: Request) -> Response:
    """`GET /_sim/state`: counts and balances, for tests to check that a refusal changed nothing."""
    exchange = sim.exchange
    every = await exchange.list_orders(status=OrderFilter.ALL, limit=EVERYTHING)
    open_orders = await exchange.list_orders(status=OrderFilter.OPEN, limit=EVERYTHING)
    account = await exchange.get_account()
    return _ok(
        orders=len(every),
        open_orders=len(open_orders),
        positions={p.symbol: wire.dec(p.quantity) for p in await exchange.list_positions()},
        cash=wire.dec(account.cash),
        market_open=exchange.is_open,
        stream_connections=sim.hub.authenticated,
        stream_listening=sim.hub.listening,
        requests=sim.traffic.total,
        data_requests=sim.market.requests,
        data_connections=sim.market.authenticated,
        data_subscribed=sim.market.subscribed(),
    )


async def traffic(sim: Simulation, request: Request) -> Response:
    """`GET /_sim/traffic`: requests per route, when each submission arrived and each fill was sent."""
    return json_response(
        {
            "ok": True,
            **sim.traffic.describe(),
            "rate_limit_windows": sim.limiter.opened(sim.settings.key_id),
        }
    )


async def set_faults(sim: Simulation, request: Request) -> Response:
    """`POST /_sim/faults {"rules": [...]}`: these rules instead of the current ones."""
    sim.set_faults(parse_rules(_body(request)))
    return json_response({"ok": True, "rules": sim.faults.describe()}, encoder=_NUMBERS)


async def get_faults(sim: Simulation, request: Request) -> Response:
    """`GET /_sim/faults`: the rules in force, each with how often it has fired."""
    return json_response({"ok": True, "rules": sim.faults.describe()}, encoder=_NUMBERS)


async def drop_stream(sim: Simulation, request: Request) -> Response:
    """`POST /_sim/stream/drop`: close every trade_updates connection now (code 1011)."""
    return _ok(closed=await sim.hub.drop_all())


async def drop_data_stream(sim: Simulation, request: Request) -> Response:
    """`POST /_sim/data/drop {"refuse": 2.5}`: close every market-data connection now (code 1011), and
    refuse new ones for `refuse` seconds (default 0)."""
    refuse = parse.decimal(_body(request), "refuse") or 0
    if not 0 <= refuse <= _MAX_REFUSE:
        raise errors.invalid(f"refuse must be a number of seconds from 0 to {_MAX_REFUSE}")
    return _ok(closed=await sim.market.drop_all(refuse=float(refuse)))


def router() -> Router:
    routes = Router()
    routes.add("POST", "/_sim/reset", reset)
    routes.add("POST", "/_sim/price", set_price)
    routes.add("POST", "/_sim/step", step)
    routes.add("POST", "/_sim/market", market)
    routes.add("GET", "/_sim/state", state)
    routes.add("GET", "/_sim/traffic", traffic)
    routes.add("POST", "/_sim/faults", set_faults)
    routes.add("GET", "/_sim/faults", get_faults)
    routes.add("POST", "/_sim/stream/drop", drop_stream)
    routes.add("POST", "/_sim/data/drop", drop_data_stream)
    return routes
