"""In-process adapters: an order store and an event bus, for tests and library use without servers."""

from adapters.memory.bus import InMemoryEventBus
from adapters.memory.store import InMemoryOrderStore

__all__ = ["InMemoryEventBus", "InMemoryOrderStore"]
