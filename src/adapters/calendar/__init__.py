"""Exchange calendars behind the core's `MarketCalendar` port (`exchange_calendars`: the `calendar` extra)."""

from adapters.calendar.xnys import FIRST_DAY, LAST_DAY, NyseCalendar

__all__ = ["FIRST_DAY", "LAST_DAY", "NyseCalendar"]
