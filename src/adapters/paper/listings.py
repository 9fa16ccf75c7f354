"""What the paper exchange lists: the `Listing` record and the default universe, shared with the simulator.

The default universe is 82 real US listings across all eleven GICS sectors, named as GICS names
them (`GICS_SECTORS`), at plausible reference prices (mid-2024 levels, rounded). It is large
enough that every risk rule can be reached through the API with the service's default limits:
more than `risk.maxOpenPositions` (20) tradable symbols, and at least four tradable symbols in
each sector, so that positions at the 10 % position limit can take one sector past its 30 %.
Three listings have a flag off, so that each refusal has something to refuse: GME cannot be sold
short, AMC trades in whole shares only and SIVB (delisted in 2023) cannot be traded at all.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Final

import attrs

from trading_core.market import Asset
from trading_core.values import Symbol

_ASSET_NAMESPACE = uuid.UUID("6f1c3c0e-8a55-4b0e-9d7e-5a1d2c3b4a59")

COMMUNICATION_SERVICES: Final = "Communication Services"
CONSUMER_DISCRETIONARY: Final = "Consumer Discretionary"
CONSUMER_STAPLES: Final = "Consumer Staples"
ENERGY: Final = "Energy"
FINANCIALS: Final = "Financials"
HEALTH_CARE: Final = "Health Care"
INDUSTRIALS: Final = "Industrials"
INFORMATION_TECHNOLOGY: Final = "Information Technology"
MATERIALS: Final = "Materials"
REAL_ESTATE: Final = "Real Estate"
UTILITIES: Final = "Utilities"

GICS_SECTORS: Final = (
    COMMUNICATION_SERVICES,
    CONSUMER_DISCRETIONARY,
    CONSUMER_STAPLES,
    ENERGY,
    FINANCIALS,
    HEALTH_CARE,
    INDUSTRIALS,
    INFORMATION_TECHNOLOGY,
    MATERIALS,
    REAL_ESTATE,
    UTILITIES,
)
"""The eleven sectors of the Global Industry Classification Standard, spelt as GICS spells them."""


@attrs.frozen(kw_only=True)
class Listing:
    """An asset the exchange lists, with its starting price.

    Attributes:
        symbol: The ticker.
        price: The starting price (Decimal, at most four places).
        name: The company's name.
        sector: Its sector, as the risk engine's sector limit groups symbols (the default
            listings use the GICS names, `GICS_SECTORS`).
        exchange: The listing venue, from Alpaca's list (NASDAQ, NYSE, NYSEARCA, OTC, ...).
        tradable: False refuses every order in it.
        shortable: False refuses a sale that would open or extend a short position.
        fractionable: False refuses quantities that are not whole shares.
    """

    symbol: str = attrs.field(converter=Symbol)
    price: Decimal = attrs.field()
    name: str = ""
    sector: str | None = None
    exchange: str = "NASDAQ"
    tradable: bool = True
    shortable: bool = True
    fractionable: bool = True

    @price.validator
    def _positive(self, attribute: attrs.Attribute[Decimal], value: Decimal) -> None:
        if not isinstance(value, Decimal) or value <= 0:
            raise ValueError(f"{self.symbol}: price must be a positive Decimal, was {value!r}")

    def to_asset(self) -> Asset:
        """The core's view of this listing; its id is a UUID derived from the symbol, stable across runs."""
        return Asset(
            symbol=Symbol(self.symbol),
            tradable=self.tradable,
            shortable=self.shortable,
            fractionable=self.fractionable,
            sector=self.sector,
            name=self.name,
            asset_id=str(uuid.uuid5(_ASSET_NAMESPACE, self.symbol)),
            exchange=self.exchange,
        )


def _sector(sector: str, exchange_by_symbol: str, *rows: tuple[str, str, str]) -> tuple[Listing, ...]:
    """The listings of one sector from (symbol, price, name) rows; `exchange_by_symbol` is "SYMBOL:VENUE ..."."""
    venues = dict(item.split(":") for item in exchange_by_symbol.split())
    return tuple(
        Listing(symbol=symbol, price=Decimal(price), name=name, sector=sector, exchange=venues.get(symbol, "NYSE"))
        for symbol, price, name in rows
    )


_NASDAQ = (
    "AAPL:NASDAQ MSFT:NASDAQ NVDA:NASDAQ AVGO:NASDAQ ADBE:NASDAQ AMD:NASDAQ CSCO:NASDAQ INTC:NASDAQ "
    "GOOGL:NASDAQ META:NASDAQ NFLX:NASDAQ CMCSA:NASDAQ AMZN:NASDAQ TSLA:NASDAQ SBUX:NASDAQ "
    "PEP:NASDAQ COST:NASDAQ MDLZ:NASDAQ HON:NASDAQ LIN:NASDAQ EQIX:NASDAQ AEP:NASDAQ EXC:NASDAQ"
)
"""The listings on NASDAQ; every other one is on the NYSE (but SIVB, on OTC)."""

DEFAULT_LISTINGS: tuple[Listing, ...] = (
    *_sector(
        INFORMATION_TECHNOLOGY,
        _NASDAQ,
        ("AAPL", "190.00", "Apple Inc."),
        ("MSFT", "415.00", "Microsoft Corporation"),
        ("NVDA", "120.00", "NVIDIA Corporation"),
        ("AVGO", "160.00", "Broadcom Inc."),
        ("ORCL", "140.00", "Oracle Corporation"),
        ("CRM", "270.00", "Salesforce, Inc."),
        ("ADBE", "520.00", "Adobe Inc."),
        ("AMD", "160.00", "Advanced Micro Devices, Inc."),
        ("CSCO", "48.00", "Cisco Systems, Inc."),
        ("INTC", "30.00", "Intel Corporation"),
        ("IBM", "180.00", "International Business Machines Corporation"),
    ),
    *_sector(
        COMMUNICATION_SERVICES,
        _NASDAQ,
        ("GOOGL", "170.00", "Alphabet Inc. Class A"),
        ("META", "500.00", "Meta Platforms, Inc."),
        ("NFLX", "650.00", "Netflix, Inc."),
        ("DIS", "100.00", "The Walt Disney Company"),
        ("CMCSA", "39.00", "Comcast Corporation Class A"),
        ("VZ", "41.00", "Verizon Communications Inc."),
        ("T", "19.00", "AT&T Inc."),
    ),
    *_sector(
        CONSUMER_DISCRETIONARY,
        _NASDAQ,
        ("AMZN", "185.00", "Amazon.com, Inc."),
        ("TSLA", "250.00", "Tesla, Inc."),
        ("HD", "350.00", "The Home Depot, Inc."),
        ("MCD", "260.00", "McDonald's Corporation"),
        ("NKE", "90.00", "NIKE, Inc. Class B"),
        ("SBUX", "80.00", "Starbucks Corporation"),
        ("LOW", "230.00", "Lowe's Companies, Inc."),
    ),
    *_sector(
        FINANCIALS,
        _NASDAQ,
        ("JPM", "200.00", "JPMorgan Chase & Co."),
        ("BAC", "40.00", "Bank of America Corporation"),
        ("WFC", "58.00", "Wells Fargo & Company"),
        ("GS", "460.00", "The Goldman Sachs Group, Inc."),
        ("MS", "98.00", "Morgan Stanley"),
        ("V", "275.00", "Visa Inc. Class A"),
        ("MA", "450.00", "Mastercard Incorporated Class A"),
        ("BRK.B", "410.00", "Berkshire Hathaway Inc. Class B"),
    ),
    *_sector(
        ENERGY,
        _NASDAQ,
        ("XOM", "115.00", "Exxon Mobil Corporation"),
        ("CVX", "155.00", "Chevron Corporation"),
        ("COP", "115.00", "ConocoPhillips"),
        ("SLB", "47.00", "Schlumberger Limited"),
        ("EOG", "125.00", "EOG Resources, Inc."),
        ("OXY", "60.00", "Occidental Petroleum Corporation"),
    ),
    *_sector(
        HEALTH_CARE,
        _NASDAQ,
        ("JNJ", "155.00", "Johnson & Johnson"),
        ("UNH", "520.00", "UnitedHealth Group Incorporated"),
        ("LLY", "800.00", "Eli Lilly and Company"),
        ("PFE", "28.00", "Pfizer Inc."),
        ("MRK", "125.00", "Merck & Co., Inc."),
        ("ABBV", "165.00", "AbbVie Inc."),
        ("TMO", "570.00", "Thermo Fisher Scientific Inc."),
        ("ABT", "105.00", "Abbott Laboratories"),
    ),
    *_sector(
        CONSUMER_STAPLES,
        _NASDAQ,
        ("PG", "165.00", "The Procter & Gamble Company"),
        ("KO", "62.00", "The Coca-Cola Company"),
        ("PEP", "170.00", "PepsiCo, Inc."),
        ("WMT", "68.00", "Walmart Inc."),
        ("COST", "850.00", "Costco Wholesale Corporation"),
        ("CL", "95.00", "Colgate-Palmolive Company"),
        ("MDLZ", "68.00", "Mondelez International, Inc. Class A"),
    ),
    *_sector(
        INDUSTRIALS,
        _NASDAQ,
        ("CAT", "340.00", "Caterpillar Inc."),
        ("HON", "205.00", "Honeywell International Inc."),
        ("UPS", "140.00", "United Parcel Service, Inc. Class B"),
        ("BA", "180.00", "The Boeing Company"),
        ("GE", "165.00", "GE Aerospace"),
        ("RTX", "100.00", "RTX Corporation"),
        ("DE", "380.00", "Deere & Company"),
    ),
    *_sector(
        MATERIALS,
        _NASDAQ,
        ("LIN", "440.00", "Linde plc"),
        ("SHW", "300.00", "The Sherwin-Williams Company"),
        ("APD", "260.00", "Air Products and Chemicals, Inc."),
        ("FCX", "50.00", "Freeport-McMoRan Inc."),
        ("NEM", "42.00", "Newmont Corporation"),
        ("DOW", "55.00", "Dow Inc."),
    ),
    *_sector(
        REAL_ESTATE,
        _NASDAQ,
        ("PLD", "110.00", "Prologis, Inc."),
        ("AMT", "190.00", "American Tower Corporation"),
        ("EQIX", "780.00", "Equinix, Inc."),
        ("SPG", "150.00", "Simon Property Group, Inc."),
        ("O", "55.00", "Realty Income Corporation"),
        ("PSA", "280.00", "Public Storage"),
    ),
    *_sector(
        UTILITIES,
        _NASDAQ,
        ("NEE", "75.00", "NextEra Energy, Inc."),
        ("DUK", "100.00", "Duke Energy Corporation"),
        ("SO", "78.00", "The Southern Company"),
        ("D", "50.00", "Dominion Energy, Inc."),
        ("AEP", "90.00", "American Electric Power Company, Inc."),
        ("EXC", "37.00", "Exelon Corporation"),
    ),
    # Three assets with a flag off, so that each refusal has something to refuse.
    Listing(
        symbol="GME",
        price=Decimal("25.00"),
        name="GameStop Corp.",
        sector=CONSUMER_DISCRETIONARY,
        exchange="NYSE",
        shortable=False,
    ),
    Listing(
        symbol="AMC",
        price=Decimal("5.00"),
        name="AMC Entertainment Holdings, Inc.",
        sector=COMMUNICATION_SERVICES,
        exchange="NYSE",
        fractionable=False,
    ),
    Listing(
        symbol="SIVB",
        price=Decimal("1.00"),
        name="SVB Financial Group",
        sector=FINANCIALS,
        exchange="OTC",
        tradable=False,
        shortable=False,
    ),
)
"""82 US listings across the eleven GICS sectors; one non-shortable (GME), one non-fractionable
(AMC) and one non-tradable (SIVB) among them."""
