"""UUID-shaped ids, cheap enough for the submit path: a random prefix and a counter."""

from __future__ import annotations

import uuid


class IdFactory:
    """Ids that are valid version-4 UUID strings, unique within a factory and across factories.

    The first 80 bits come from one `uuid4()` per factory, the last 48 bits count up. Building an
    id is one string format, where `str(uuid.uuid4())` costs a system call and an object.
    """

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]  # "xxxxxxxx-xxxx-4xxx-yxxx-": version and variant kept
        self._count = 1 << 48
        """2^48 plus the ids made: hex() of it is "0x1" then twelve zero-padded digits, cheaper than a format spec."""

    def next(self) -> str:
        """A new id, unique in this exchange."""
        self._count += 1
        return self._prefix + hex(self._count)[3:]
