"""The book's read-only views: made once, they follow its dicts, and nothing can write through them."""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType

import pytest

from tests.unit.builders import account, clock, order, request
from trading_core.book import Book
from trading_core.enums import OrderStatus
from trading_core.risk import RiskContext
from trading_core.values import OrderId, Symbol

AAPL = Symbol("AAPL")


def test_the_working_view_follows_the_open_orders_of_each_symbol() -> None:
    book = Book()
    view = book.working_view
    first = order(request(symbol="AAPL"), status=OrderStatus.NEW, order_id="a")
    second = order(request(symbol="AAPL", side="sell"), status=OrderStatus.NEW, order_id="b")

    book.reserve(first)
    book.reserve(second)
    both = {symbol: dict(orders) for symbol, orders in view.items()}
    book.release(first)
    one = {symbol: dict(orders) for symbol, orders in view.items()}
    book.release(second)

    assert both == {AAPL: {OrderId("a"): first, OrderId("b"): second}}
    assert one == {AAPL: {OrderId("b"): second}}
    assert dict(view) == {}
    assert view is book.working_view


def test_nothing_can_be_written_through_the_views() -> None:
    book = Book()
    book.reserve(order(status=OrderStatus.NEW))

    with pytest.raises(TypeError):
        book.working_view[AAPL] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        book.working_view[AAPL][OrderId("x")] = order()  # type: ignore[index]
    with pytest.raises(TypeError):
        book.marks_view[AAPL] = Decimal(1)  # type: ignore[index]
    with pytest.raises(TypeError):
        del book.positions_view[AAPL]  # type: ignore[attr-defined]


def test_a_context_keeps_the_books_views_and_wraps_plain_dicts() -> None:
    book = Book()
    book.reserve(order(status=OrderStatus.NEW))
    plain = {AAPL: {OrderId("x"): order(status=OrderStatus.NEW)}}

    kept = RiskContext(account=account(), clock=clock(), marks=book.marks_view, working=book.working_view)
    wrapped = RiskContext(account=account(), clock=clock(), working=plain)

    assert kept.working is book.working_view
    assert kept.marks is book.marks_view
    assert isinstance(wrapped.working, MappingProxyType)
    assert isinstance(wrapped.working[AAPL], MappingProxyType)
    assert wrapped.working == plain
