"""The portfolio view: equity, exposure by symbol and sector, open positions, today's P&L."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from trading_core.market import Account
from trading_core.portfolio import Portfolio
from trading_core.positions import Position
from trading_core.testing import positions, prices
from trading_core.values import Symbol

from .builders import AAPL, MSFT, NOW, XOM, position

ZERO = Decimal(0)


def book(*held: Position, marks: dict[Symbol, Decimal] | None = None, **kw: object) -> Portfolio:
    return Portfolio(
        cash=Decimal(10_000),
        positions={p.symbol: p for p in held},
        marks=marks if marks is not None else {p.symbol: Decimal(100) for p in held},
        **kw,  # type: ignore[arg-type]
    )


class TestPortfolio:
    def test_equity_is_cash_plus_longs_minus_shorts(self) -> None:
        portfolio = book(position(AAPL, 10, 90), position(MSFT, -5, 110))

        assert (Decimal(500), Decimal(10_500)) == (portfolio.market_value, portfolio.equity)

    def test_exposure_is_absolute(self) -> None:
        portfolio = book(position(AAPL, 10, 90), position(MSFT, -5, 110))

        assert (Decimal(1000), Decimal(500), ZERO) == (
            portfolio.exposure(AAPL),
            portfolio.exposure(MSFT),
            portfolio.exposure(XOM),
        )

    def test_sector_exposure_adds_the_sectors_positions_long_and_short(self) -> None:
        sectors = {AAPL: "Technology", MSFT: "Technology", XOM: "Energy", Symbol("NVDA"): "Technology"}
        portfolio = book(position(AAPL, 10, 90), position(MSFT, -5, 110), position(XOM, 1, 50), sectors=sectors)

        assert (Decimal(1500), Decimal(100), ZERO) == (
            portfolio.sector_exposure("Technology"),
            portfolio.sector_exposure("Energy"),
            portfolio.sector_exposure("Health Care"),
        )

    def test_a_position_without_a_mark_is_valued_at_its_entry(self) -> None:
        portfolio = book(position(AAPL, 10, 90), marks={})

        assert (Decimal("90.0000"), ZERO, ZERO) == (
            portfolio.mark(AAPL),
            portfolio.mark(XOM),
            portfolio.unrealized_pnl,
        )

    def test_counts_only_open_positions(self) -> None:
        portfolio = book(position(AAPL, 10, 90), Position.flat(MSFT))

        assert portfolio.open_positions == 1

    def test_daily_pnl_is_measured_from_the_last_close(self) -> None:
        portfolio = book(position(AAPL, 10, 90), last_equity=Decimal(11_500))

        assert Decimal(-500) == portfolio.daily_pnl

    def test_unrealised_pnl_adds_every_position(self) -> None:
        portfolio = book(position(AAPL, 10, 90), position(MSFT, -5, 110))

        assert Decimal(150) == portfolio.unrealized_pnl

    @settings(max_examples=100, deadline=None)
    @given(st.lists(positions(), max_size=6, unique_by=lambda p: p.symbol), st.data())
    def test_equity_less_cost_is_cash_plus_unrealised(self, held: list[Position], data: st.DataObject) -> None:
        marks = {p.symbol: data.draw(prices()) for p in held}
        portfolio = book(*held, marks=marks)

        cost = sum((p.cost_basis for p in held), ZERO)
        assert portfolio.equity - cost == portfolio.cash + portfolio.unrealized_pnl
        assert sum((portfolio.exposure(p.symbol) for p in held), ZERO) >= abs(portfolio.market_value)


class TestAccount:
    def test_daily_pnl_is_equity_less_last_equity(self) -> None:
        account = Account(account_id="a", cash=ZERO, equity=Decimal(97), buying_power=ZERO, last_equity=Decimal(100))

        assert Decimal(-3) == account.daily_pnl


def test_positions_keep_their_time() -> None:
    assert position(AAPL, 1, 1).opened_at == NOW
