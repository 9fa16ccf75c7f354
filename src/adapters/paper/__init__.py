"""The paper exchange: a simulated broker in-process (matching, account, prices, trade updates)."""

from adapters.paper.config import DEFAULT_LISTINGS, AccountType, Listing, PaperConfig
from adapters.paper.exchange import PaperExchange

__all__ = ["DEFAULT_LISTINGS", "AccountType", "Listing", "PaperConfig", "PaperExchange"]
