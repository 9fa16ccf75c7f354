"""The API's field types: the words its enums take, exact numbers, checked text, and the two body bases.

Patterns match the whole string only (`whole`), so msgspec and the OpenAPI schema's ECMAScript
agree on them; `errors` turns a pattern's failure into a sentence a client can act on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Final, Literal

import msgspec

Side = Literal["buy", "sell"]
OrderTypeName = Literal["market", "limit", "stop", "stop_limit", "trailing_stop"]
OrderClassName = Literal["simple", "bracket", "oco", "oto"]
EngineProtectionName = Literal["exits_attached", "filled_part"]
TimeInForceName = Literal["day", "gtc", "ioc", "fok"]
OrderStatusName = Literal["new", "partially_filled", "filled", "cancelled", "rejected"]
SubmitStatusName = Literal["pending", "accepted", "rejected"]
PositionSideName = Literal["long", "short"]
TradingStateName = Literal["active", "reducing_only", "halted"]
HealthStatusName = Literal["healthy", "unhealthy"]
MarketHoursName = Literal["XNYS", "always-open", "broker"]

Amount = Annotated[Decimal, msgspec.Meta(description="An exact decimal number.")]
"""An amount in an answer."""


class JsonNumber(Decimal):
    """An amount in a request: a JSON number only.

    Decimal alone would take a string too (`"10"`, `" 2 "`, `"1_0"`), which the API does not
    promise; `codec.decode_number` refuses anything but a number. Each subclass is documented
    in the OpenAPI schema with the bounds the engine enforces (`codec.DecimalSchemaPlugin`).
    """


class OrderQuantity(JsonNumber):
    """Greater than 0, at most 4 decimal places, within DECIMAL(15,4)."""


class OrderPrice(JsonNumber):
    """Greater than 0 with at most 4 decimal places below $1, at most 2 from $1 up (sub-penny rule)."""


class TrailPercent(JsonNumber):
    """Greater than 0 and less than 100, at most 4 decimal places: a trailing stop's trail in percent of its
    high-water mark (`trading_core.trailing.check_trail_percent`)."""


class QueryQuantity(Decimal):
    """A quantity in a query string: decimal digits only (`2`, `0.5`), as `codec.decode_number` reads them."""


def whole(body: str) -> str:
    """A pattern matching the whole string only, in Python and in the schema's ECMAScript alike.

    msgspec searches with Python's `re`, where `$` also matches before a final newline
    (`"AAPL\\n"` would pass `^[A-Z]+$`); the lookahead leaves only the true end.
    """
    return f"^{body}$(?!\\n)"


TICKER_PATTERN: Final = whole(r"[A-Z][A-Z0-9]{0,5}([./-][A-Z0-9]{1,3})?")
"""A ticker as the engine takes it (`values.Symbol`), in upper case: AAPL, BRK.B."""

UUID_PATTERN: Final = whole(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

CLIENT_ORDER_ID_PATTERN: Final = whole(r"[!-~]{1,48}")
"""Visible ASCII (letters, digits, punctuation), no spaces, 1 to 48 characters: Alpaca's limit on
`client_order_id`, to which the id is sent as it is (the database column would hold 64)."""

NO_NUL_PATTERN: Final = whole(r"[^\x00]*")
"""Free text: anything but NUL, which PostgreSQL's text cannot hold (the body is refused before)."""

Ticker = Annotated[str, msgspec.Meta(pattern=TICKER_PATTERN, max_length=10, description="A ticker: AAPL, BRK.B.")]
ClientOrderIdText = Annotated[
    str,
    msgspec.Meta(
        pattern=CLIENT_ORDER_ID_PATTERN,
        min_length=1,
        max_length=48,
        description="Your id for the order, 1 to 48 visible ASCII characters (Alpaca's limit; it is sent there).",
    ),
]
UuidText = Annotated[str, msgspec.Meta(pattern=UUID_PATTERN, description="A UUID.")]


ResetBy = Annotated[
    str,
    msgspec.Meta(
        pattern=NO_NUL_PATTERN,
        max_length=200,
        description="Who ends the reducing-only state (recorded); default: the caller's address.",
    ),
]
ResetReason = Annotated[
    str, msgspec.Meta(pattern=NO_NUL_PATTERN, max_length=1000, description="Why (recorded); default: manual reset.")
]


class _Body(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """A request body: camelCase keys, unknown keys refused (a typo must not be ignored)."""


class _Out(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A response body: camelCase keys, optional fields left out when empty."""
