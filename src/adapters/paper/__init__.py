"""The paper exchange: a simulated broker in-process (matching, account, prices, trade updates)."""

from adapters.paper.config import AccountType, PaperConfig
from adapters.paper.exchange import PaperExchange
from adapters.paper.listings import DEFAULT_LISTINGS, Listing

__all__ = ["DEFAULT_LISTINGS", "AccountType", "Listing", "PaperConfig", "PaperExchange"]
