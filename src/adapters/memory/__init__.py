"""In-process adapters: an order store that keeps everything in memory."""

from adapters.memory.store import InMemoryOrderStore

__all__ = ["InMemoryOrderStore"]
