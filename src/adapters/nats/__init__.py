"""NATS adapters: events out through JetStream (`NatsEventBus`), commands in (`NatsCommandConsumer`)."""

from adapters.nats.bus import NatsEventBus
from adapters.nats.config import Command, NatsSettings, command_for, event_subject
from adapters.nats.connection import connect, ensure_stream
from adapters.nats.consumer import NatsCommandConsumer

__all__ = [
    "Command",
    "NatsCommandConsumer",
    "NatsEventBus",
    "NatsSettings",
    "command_for",
    "connect",
    "ensure_stream",
    "event_subject",
]
