"""`PaperConfig` refuses what a strategy author might pass by mistake, at construction, with a message
that says what it takes (a float's cash, a calendar's name given as a string), rather than failing later,
deep in the first order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.calendar import NyseCalendar
from adapters.paper import PaperConfig


@pytest.mark.parametrize(
    ("changes", "error", "says"),
    [
        ({"calendar": "always-open"}, TypeError, "NyseCalendar"),
        ({"calendar": "XNYS"}, TypeError, "None"),
        ({"starting_cash": 50000.5}, TypeError, "float"),
        ({"starting_cash": True}, TypeError, "bool"),
        ({"starting_cash": "lots"}, ValueError, "starting_cash"),
        ({"starting_cash": -5}, ValueError, "negative"),
        ({"starting_cash": "NaN"}, ValueError, "finite"),
        ({"seed": "x"}, TypeError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"volatility_bp": 2.5}, TypeError, "volatility_bp"),
        ({"fill_parts": "2"}, TypeError, "fill_parts"),
        ({"minute_bars_kept": 2.5}, TypeError, "minute_bars_kept"),
        ({"minute_bars_kept": 0}, ValueError, "minute_bars_kept"),
    ],
)
def test_a_mistaken_setting_is_refused_when_the_config_is_made(
    changes: dict[str, object], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        PaperConfig(**changes)  # type: ignore[arg-type]


def test_cash_given_as_an_int_or_a_string_is_taken_exactly() -> None:
    assert PaperConfig(starting_cash=50_000).starting_cash == Decimal("50000")
    assert PaperConfig(starting_cash="25000.10").starting_cash == Decimal("25000.10")
    assert isinstance(PaperConfig(starting_cash=1).starting_cash, Decimal)


def test_a_calendar_object_and_none_are_taken() -> None:
    assert PaperConfig(calendar=None).calendar is None
    calendar = NyseCalendar()
    assert PaperConfig(calendar=calendar).calendar is calendar
