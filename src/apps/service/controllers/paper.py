"""The paper exchange's operator endpoint: set a symbol's price. Served only when the broker is the paper exchange."""

from __future__ import annotations

from typing import cast

from litestar import Controller, put
from litestar.params import JSONBody

from apps.service.controllers.docs import Engine, errors
from apps.service.controllers.positions import SymbolPath
from apps.service.errors import BODY_CODE
from apps.service.schemas import PaperPriceBody, PaperPriceRequest
from trading_core import codes
from trading_core.errors import InvalidOrder, NotFound
from trading_core.values import at_four_places


class PaperController(Controller):
    path = "/api/v1/paper"
    tags = ["paper exchange"]  # noqa: RUF012  # Litestar's declared class attribute

    @put(
        "/prices/{symbol:str}",
        status_code=200,
        responses=errors(404, 413),
        summary="Set a price on the paper exchange (operator)",
        opt={BODY_CODE: codes.INVALID_REQUEST},
    )
    async def set_price(self, symbol: SymbolPath, data: JSONBody[PaperPriceRequest], engine: Engine) -> PaperPriceBody:
        """Move a listed symbol's price on the paper exchange, as a trade there would.

        Present only when the broker is the paper exchange (absent, 404, with Alpaca). In session,
        the resting orders the new price crosses execute: a buy limit at or above it, a sell limit
        at or below it, stops it passes. Positions are valued at it at once. The price walk, when
        on, goes on from it.
        """
        from adapters.paper import PaperExchange

        exchange = cast(PaperExchange, engine.broker)
        try:
            previous = exchange.price(symbol)
        except (KeyError, InvalidOrder) as e:  # not a ticker names no listing either
            raise NotFound(
                f"{symbol[:80]!r} is not listed on the paper exchange", details={"symbol": symbol[:80]}
            ) from e
        exchange.set_price(symbol, data.price)
        await engine.process_updates()  # what the move filled is booked before the answer
        return PaperPriceBody(
            symbol=symbol, price=at_four_places(exchange.price(symbol)), previous_price=at_four_places(previous)
        )
