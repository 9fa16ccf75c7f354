"""The machine-readable codes of risk rejections and engine refusals, as the spec names them."""

from __future__ import annotations

from typing import Final

INSUFFICIENT_FUNDS: Final = "INSUFFICIENT_FUNDS"
POSITION_LIMIT: Final = "POSITION_LIMIT"
MARKET_CLOSED: Final = "MARKET_CLOSED"
SYMBOL_NOT_TRADABLE: Final = "SYMBOL_NOT_TRADABLE"
WASH_TRADE: Final = "WASH_TRADE"
BROKER_ERROR: Final = "BROKER_ERROR"
SECTOR_LIMIT: Final = "SECTOR_LIMIT"
DAILY_LOSS_LIMIT: Final = "DAILY_LOSS_LIMIT"
MAX_OPEN_POSITIONS: Final = "MAX_OPEN_POSITIONS"
PDT_RESTRICTED: Final = "PDT_RESTRICTED"
INVALID_ORDER: Final = "INVALID_ORDER"
INSUFFICIENT_QUANTITY: Final = "INSUFFICIENT_QUANTITY"
"""More shares to sell or close than are held and free (Alpaca's "insufficient qty available")."""
INVALID_MODIFICATION: Final = "INVALID_MODIFICATION"
"""A change that does not fit the order it changes (a limit price for a stop order)."""
INVALID_PARAMETER: Final = "INVALID_PARAMETER"
"""A query or path parameter that cannot be read (the API's, not an order's field)."""
INVALID_REQUEST: Final = "INVALID_REQUEST"
"""A malformed request body that is not an order's (a risk reset)."""
BODY_TOO_LARGE: Final = "BODY_TOO_LARGE"
"""A request body beyond the API's limit (64 KiB)."""
QUANTITY_MISMATCH: Final = "QUANTITY_MISMATCH"
"""A close given one quantity in its query and another in its body."""
RISK_REJECTED: Final = "RISK_REJECTED"
"""A check that could not decide (a rule that failed): the order is refused, as a risk check fails closed."""
TRADING_HALTED: Final = "TRADING_HALTED"
"""Trading was halted by hand (the operator's kill switch): only orders that reduce a position pass."""

RISK_CODES: Final = frozenset(
    {
        INSUFFICIENT_FUNDS,
        POSITION_LIMIT,
        MARKET_CLOSED,
        SYMBOL_NOT_TRADABLE,
        WASH_TRADE,
        SECTOR_LIMIT,
        DAILY_LOSS_LIMIT,
        MAX_OPEN_POSITIONS,
        PDT_RESTRICTED,
        RISK_REJECTED,
        TRADING_HALTED,
    }
)
"""Every code a pre-trade check may reject with."""

RESEND_ADVICE: Final = "nothing was placed: submit it again under a new clientOrderId"
"""What a `BROKER_ERROR` refusal of an order the broker never received tells the caller. Its
client order id stays with the refused order (a repeat is answered with it), so a new attempt
needs a new one."""
