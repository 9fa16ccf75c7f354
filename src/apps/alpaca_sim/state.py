"""The simulator's account on disk (`--state FILE`): an append-only journal, replayed at start.

The file is JSON lines. The first is the header: the account (id, number, creation time,
starting cash, seed). Each further line is one commit: the trade updates one request caused (the
order as it then stood, and on fills the execution), the orders it took that no update tells of
(a group's held legs), the position intents it set, and the prices,
session flag, `last_equity` and closing prices that changed. A commit is one `write` of one line,
flushed and fsynced before the request is answered and before its updates go to the stream.

So a `kill -9` at any moment leaves a readable journal: at worst its last line is cut short,
which `read` drops (and truncates), losing only a change whose answer was never sent and whose
updates were never streamed. A reset writes a new header to a temporary file, fsyncs it and
renames it over the journal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

import attrs
import cattrs
import msgspec

from trading_core.broker_models import BrokerOrder, TradeUpdate
from trading_core.orders import TradeEvent
from trading_core.values import BrokerOrderId, ClientOrderId, ExecutionId, Symbol

log = logging.getLogger(__name__)

FORMAT: Final = "alpaca-sim-journal/1"

_conv = cattrs.Converter()
_conv.register_unstructure_hook(Decimal, str)
_conv.register_structure_hook(Decimal, lambda value, _: Decimal(value))
_conv.register_unstructure_hook(datetime, datetime.isoformat)
_conv.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
for _cls in (BrokerOrderId, ClientOrderId, ExecutionId, Symbol):
    _conv.register_structure_hook(_cls, lambda value, cls: cls(value))
    _conv.register_unstructure_hook(_cls, str)


def _event(value: str, _: Any) -> TradeEvent | str:
    try:
        return TradeEvent(value)
    except ValueError:
        return value


_conv.register_structure_hook_func(lambda t: t == (TradeEvent | str), _event)
_conv.register_unstructure_hook_func(lambda t: t == (TradeEvent | str), str)
_ENCODER: Final = msgspec.json.Encoder()


@attrs.frozen(kw_only=True)
class Header:
    """The account a journal belongs to."""

    account_id: str
    account_number: str
    created_at: datetime
    starting_cash: Decimal
    seed: int
    format: str = FORMAT


@attrs.frozen(kw_only=True)
class Commit:
    """What one request changed; members that did not change are None (or empty)."""

    updates: Sequence[TradeUpdate] = ()
    orders: Sequence[BrokerOrder] = ()
    """Orders taken without a trade update (a group's held legs, a held leg's replacement), as taken."""
    intents: Mapping[str, str] = attrs.field(factory=dict)
    prices: Mapping[str, Decimal] = attrs.field(factory=dict)
    market_open: bool | None = None
    last_equity: Decimal | None = None
    lastday: Mapping[str, Decimal] | None = None

    @property
    def empty(self) -> bool:
        return not (self.updates or self.orders or self.intents or self.prices or self.lastday) and (
            self.market_open is None and self.last_equity is None
        )


@attrs.define
class Replayed:
    """A journal read back: the header, and everything its commits say, last word last."""

    header: Header
    orders: dict[BrokerOrderId, BrokerOrder] = attrs.Factory(dict)
    """Every order as last reported, in the order each was first reported (submission order)."""
    fills: list[TradeUpdate] = attrs.Factory(list)
    """Every fill update, in the order they happened."""
    intents: dict[str, str] = attrs.Factory(dict)
    prices: dict[str, Decimal] = attrs.Factory(dict)
    market_open: bool | None = None
    last_equity: Decimal | None = None
    lastday: dict[str, Decimal] | None = None
    commits: int = 0

    def apply(self, commit: Commit) -> None:
        for order in commit.orders:  # as taken: any update about it (in this commit or later) says more
            self.orders.setdefault(order.broker_order_id, order)
        for update in commit.updates:
            self.orders[update.order.broker_order_id] = update.order
            if update.is_fill:
                self.fills.append(update)
        self.intents.update(commit.intents)
        self.prices.update(commit.prices)
        if commit.market_open is not None:
            self.market_open = commit.market_open
        if commit.last_equity is not None:
            self.last_equity = commit.last_equity
        if commit.lastday is not None:
            self.lastday = dict(commit.lastday)
        self.commits += 1


class JournalError(Exception):
    """The state file cannot be used (not a journal of this simulator, or unreadable)."""


class Journal:
    """The journal at `path`: `read` it once, then `start` or keep appending `commit`s."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def read(self) -> Replayed | None:
        """What the journal holds; None when there is none yet. A torn last line is cut off."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not data.strip():
            return None
        lines = data.split(b"\n")
        kept = len(data)
        if lines[-1]:  # no newline at the end: the last write was cut short by a crash
            kept -= len(lines[-1])
            log.warning("state %s: dropped a commit cut short (%d bytes)", self.path, len(lines[-1]))
        replayed = Replayed(header=_header(lines[0], self.path))
        for number, line in enumerate(lines[1:-1], start=2):
            try:
                commit = _conv.structure(msgspec.json.decode(line), Commit)
            except (msgspec.DecodeError, cattrs.BaseValidationError, ValueError, TypeError) as e:
                raise JournalError(f"state {self.path}, line {number}: not a commit ({e})") from e
            replayed.apply(commit)
        if kept < len(data):
            with self.path.open("r+b") as f:
                f.truncate(kept)
        self._file = self.path.open("ab")
        return replayed

    def start(self, header: Header) -> None:
        """A fresh journal holding only `header`, in place of the old one, atomically."""
        self.close()
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as f:
            f.write(_ENCODER.encode(_conv.unstructure(header)) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)
        _sync_directory(self.path.parent)
        self._file = self.path.open("ab")

    def commit(self, commit: Commit) -> None:
        """Append one commit and make it durable before returning."""
        f = self._file
        if f is None:
            raise JournalError(f"state {self.path} is not open")
        record = {key: value for key, value in _conv.unstructure(commit).items() if value not in (None, [], {})}
        f.write(_ENCODER.encode(record) + b"\n")
        f.flush()
        os.fsync(f.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _header(line: bytes, path: Path) -> Header:
    try:
        header = _conv.structure(msgspec.json.decode(line), Header)
    except (msgspec.DecodeError, cattrs.BaseValidationError, ValueError, TypeError) as e:
        raise JournalError(f"state {path} is not an alpaca-sim journal ({e})") from e
    if header.format != FORMAT:
        raise JournalError(f"state {path} is a {header.format!r} journal; this simulator reads {FORMAT!r}")
    return header


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
