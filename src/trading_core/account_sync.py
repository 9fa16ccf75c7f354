"""When the account is read from the broker, and what a read does to the figures kept here.

The account is read once at start, and then again (`GET /v2/account` on Alpaca)

- every `account_sync_interval` (60 s by default) and when a new day begins in New York;
- after an order goes in doubt, or an order in doubt turns out to be at the broker after a read
  (`account_book.AccountBook.reread`, set by the book), after reconciliation adopts a position,
  after a session signal, and after the trade update stream reconnects (`ReportsReconnects`).

Each of these asks for one read, made at the next use of the account once `account_read_gap`
(2 s) has passed since the last: any number of them in between make one request. Between reads
the risk checks use the figures kept here, with no request.

A read compares the broker's cash, equity and buying power with ours. A difference beyond a cent
may be a fill on its way (the broker has made it, the stream has not delivered it yet; or the
reverse), so the account is read once more, `account_read_gap` later: if the difference is still
there it is logged, handed to the drift listeners (the service counts it in
`trading_account_drift_total`) and the broker's figures are taken; if it has gone, nothing is.
A read that fails while figures are kept leaves them in use and is tried again a little later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from trading_core.account_book import AccountDrift
from trading_core.book import Book
from trading_core.clock import Clock
from trading_core.errors import BrokerError
from trading_core.market import EASTERN, Account
from trading_core.ports import Broker, ReportsReconnects

log = logging.getLogger("trading_core.account")

DriftListener = Callable[[AccountDrift], None]

RETRY_AFTER: Final = timedelta(seconds=5)
"""How long a failed read waits before the next try, while the figures kept here stand in."""

_NEVER: Final = datetime.min.replace(tzinfo=UTC)


class AccountSync:
    """Reads the account when due and keeps `book.account` in line with the broker's.

    Args:
        broker: Where the account is read.
        book: The engine's book, whose `account` this keeps.
        clock: The engine's clock.
        interval: The longest time between two reads.
        read_gap: The shortest time between two reads asked for (a second read, after one that
            differed, included).
        refresh_marks: Brings the marks of what is held up to date, before each read.
    """

    def __init__(
        self,
        *,
        broker: Broker,
        book: Book,
        clock: Clock,
        interval: timedelta,
        read_gap: timedelta,
        refresh_marks: Callable[[], Awaitable[None]],
    ) -> None:
        self._broker = broker
        self._book = book
        self._clock = clock
        self._interval = interval
        self._read_gap = read_gap
        self._refresh_marks = refresh_marks
        self._stream = broker if isinstance(broker, ReportsReconnects) else None
        self._reconnections = -1
        self._due_at = _NEVER
        """When the next read is due: the interval's end, the day's, or a confirmation's."""
        self._not_before = _NEVER
        """No read before this: reads asked for keep `read_gap` apart, and a failed one backs off."""
        self._confirming = False
        self._reading = asyncio.Lock()
        self.listeners: list[DriftListener] = []

    def fresh(self) -> Account | None:
        """The account as kept here while no read is due; None when one may be (`account()` says).

        The risk checks ask before every order: answered without a coroutine when it can be.
        """
        kept = self._book.account
        if kept.reread or self._clock.now() >= self._due_at or self._stream is not None:
            return None
        return kept.account()

    async def account(self) -> Account:
        """The account as kept here, read from the broker first if a read is due."""
        if self._due(self._clock.now()):
            await self._read_if_due()
        return self._book.account.account()

    async def read(self) -> Account:
        """Read the account now and return the broker's figures (a read under way is waited for first)."""
        async with self._reading:
            return await self._read()

    def _due(self, now: datetime) -> bool:
        if now < self._not_before:
            return False
        stream = self._stream
        return (
            now >= self._due_at
            or self._book.account.reread
            or (stream is not None and stream.reconnections != self._reconnections)
        )

    async def _read_if_due(self) -> None:
        async with self._reading:  # a read under way coalesces with this one
            if not self._due(self._clock.now()):
                return
            try:
                await self._read()
            except BrokerError as e:
                if not self._book.account.known:
                    raise
                self._not_before = self._due_at = self._clock.now() + RETRY_AFTER
                log.warning("the account could not be read (%s): ours stands in, read again in %s", e, RETRY_AFTER)

    async def _read(self) -> Account:
        kept = self._book.account
        wanted, kept.reread = kept.reread, False  # what asks for a read from now on asks for the next one
        stream = self._stream
        reconnections = stream.reconnections if stream is not None else 0
        try:
            await self._refresh_marks()
            theirs = await self._broker.get_account()
        except BaseException:
            kept.reread = kept.reread or wanted  # still wanted
            raise
        now = self._clock.now()
        self._reconnections = reconnections
        drifts = kept.differences(theirs) if kept.known else []
        if drifts and not self._confirming:
            log.info(
                "the broker's account differs from ours (%s): read again in %s before taking it",
                _described(drifts),
                self._read_gap,
            )
            kept.take(theirs, balances=False)
            self._confirming = True
            self._not_before = self._due_at = now + self._read_gap
            return theirs
        if drifts:
            log.warning("the broker's account differs from ours (%s): taking the broker's", _described(drifts))
            self._tell(drifts)
        kept.take(theirs)
        self._confirming = False
        self._not_before = now + self._read_gap
        self._due_at = min(now + self._interval, _next_midnight(now))
        return theirs

    def _tell(self, drifts: list[AccountDrift]) -> None:
        for listener in self.listeners:
            for drift in drifts:
                try:
                    listener(drift)
                except Exception:
                    log.exception("account drift listener %r failed", listener)


def _described(drifts: list[AccountDrift]) -> str:
    return ", ".join(f"{d.figure} ours {d.ours:.2f}, broker's {d.broker:.2f}" for d in drifts)


def _next_midnight(moment: datetime) -> datetime:
    """The start of the next day in New York: `last_equity` moves on then."""
    local = moment.astimezone(EASTERN)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return midnight.astimezone(UTC)
