"""`/v2/account`, `/v2/clock`, `/v2/calendar` and `/v2/assets`."""

from __future__ import annotations

from datetime import date, timedelta

from apps.alpaca_sim import errors, wire
from apps.alpaca_sim.asgi import Request, Response, json_response
from apps.alpaca_sim.simulation import Simulation

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2029, 12, 31)
"""The calendar Alpaca serves covers 1970 to 2029."""
_SETTLEMENT_REACH = timedelta(days=14)
"""Past the last day asked for, far enough to find its settlement date (T+5 at most, and the longest closure)."""


async def get_account(sim: Simulation, request: Request) -> Response:
    account = await sim.exchange.get_account()
    positions = await sim.exchange.list_positions()
    values = [p.quantity * sim.exchange.price(p.symbol) for p in positions]
    return json_response(
        wire.account(
            account,
            account_number=sim.account_number,
            created_at=sim.created_at,
            position_values=values,
        )
    )


async def get_clock(sim: Simulation, request: Request) -> Response:
    return json_response(wire.clock(await sim.exchange.get_clock()))


async def get_calendar(sim: Simulation, request: Request) -> Response:
    """The exchange's trading days from `start` to `end` (inclusive dates; the whole calendar without
    them): holidays absent, early closes at 13:00, each with its settlement date."""
    start = max(request.query.day("start") or FIRST_DAY, FIRST_DAY)
    end = min(request.query.day("end") or LAST_DAY, LAST_DAY)
    if start > end:
        return json_response([])
    days = sim.dates.trading_days(start, end + _SETTLEMENT_REACH)
    return json_response(wire.calendar_days(days, start, end))


async def list_assets(sim: Simulation, request: Request) -> Response:
    """Every listed asset is an active US equity; `exchange` and `attributes` filter them."""
    query = request.query
    status = query.get("status")
    asset_class = query.get("asset_class") or "us_equity"
    exchange = query.get("exchange")
    attributes = query.symbols("attributes")
    if status not in (None, "", "active") or asset_class != "us_equity" or attributes:
        return json_response([])
    return json_response(
        [wire.asset(a) for a in sim.assets.values() if exchange in (None, "") or a.exchange == exchange]
    )


async def get_asset(sim: Simulation, request: Request, symbol_or_asset_id: str) -> Response:
    asset = sim.resolve(symbol_or_asset_id)
    if asset is None:
        raise errors.not_found(f"asset not found for {symbol_or_asset_id}")
    return json_response(wire.asset(asset))
