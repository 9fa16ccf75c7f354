"""An event bus in the process: keeps what was published, in order, and tells local subscribers."""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final

from trading_core.ports import EventMessage
from trading_core.values import EventId

__all__ = ["InMemoryEventBus", "Subscriber"]

log: Final = logging.getLogger(__name__)

Subscriber = Callable[[EventMessage], Awaitable[None] | None]
"""A callback for each message: a plain function or a coroutine function."""


class InMemoryEventBus:
    """The `EventBus` port in memory: O(1) per publish, duplicates by event id dropped.

    `messages` keeps every message published, oldest first (the last `maxlen` when one is given;
    the ids remembered for deduplication are bounded the same way). Subscribers are called in the
    order they subscribed; one that raises is logged and does not stop the others or the publisher,
    as a remote consumer's failure would not.
    """

    def __init__(self, *, maxlen: int | None = None) -> None:
        self._messages: deque[EventMessage] = deque(maxlen=maxlen)
        self._seen: set[EventId] = set()
        """The ids of `_messages`, always: the oldest id leaves with the oldest message."""
        self._maxlen = maxlen
        self._subscribers: list[tuple[Subscriber, frozenset[str] | None]] = []
        self.duplicates = 0
        """How many messages were dropped as duplicates."""

    @property
    def messages(self) -> Sequence[EventMessage]:
        return self._messages

    def types(self) -> list[str]:
        """The types of the messages kept, in order: handy in tests."""
        return [m.type for m in self._messages]

    def subscribe(self, callback: Subscriber, *, types: Iterable[str] | None = None) -> Callable[[], None]:
        """Call `callback` for each new message (of `types` only, when given); return an unsubscribe function."""
        entry = (callback, None if types is None else frozenset(types))
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    async def publish(self, message: EventMessage) -> None:
        seen, messages = self._seen, self._messages
        if message.event_id in seen:
            self.duplicates += 1
            return
        seen.add(message.event_id)
        if len(messages) == self._maxlen:  # full: the oldest message goes, and its id (this one's, if none are kept)
            seen.remove((messages[0] if messages else message).event_id)
        messages.append(message)
        if not self._subscribers:  # nothing to copy the list for
            return
        for callback, types in tuple(self._subscribers):
            if types is None or message.type in types:
                await self._notify(callback, message)

    async def _notify(self, callback: Subscriber, message: EventMessage) -> None:
        try:
            result = callback(message)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("subscriber %r failed on %s %s", callback, message.type, message.event_id)

    def clear(self) -> None:
        """Forget the messages kept and the ids seen."""
        self._messages.clear()
        self._seen.clear()
        self.duplicates = 0
