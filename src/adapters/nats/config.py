"""Settings of the NATS adapters, and the mapping between event types, commands and subjects."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from typing import Final

import attrs

from adapters.codec.events import DEFAULT_SOURCE

__all__ = ["EVENT_NAMESPACE", "Command", "NatsSettings", "command_for", "event_subject"]

EVENT_NAMESPACE: Final = "trade"
"""The first token of every event type we publish (`trade.order.filled`)."""

_WORD: Final = r"[A-Za-z0-9_-]+"
_SUBJECT: Final = re.compile(rf"^{_WORD}(\.{_WORD})*$")
_FILTER: Final = re.compile(rf"^({_WORD}|\*)(\.({_WORD}|\*))*(\.>)?$")
_STREAM: Final = re.compile(r"^[A-Za-z0-9_-]+$")


class Command(StrEnum):
    """What another service tells the engine, named as the spec's subscriptions are."""

    DECISION = "ai.decision.generated"
    SESSION_OPENED = "market.session.opened"
    SESSION_CLOSED = "market.session.closed"
    SHUTDOWN = "system.shutdown"


def command_for(subject: str) -> Command | None:
    """The command a subject carries, whatever prefix it is under (`ai-trader.system.shutdown`)."""
    for command in Command:
        if subject == command or subject.endswith("." + command):
            return command
    return None


def event_subject(event_type: str, publish_prefix: str) -> str:
    """The subject an event type is published on.

    Event types are `trade.<entity>.<what>` and the prefix ends where the namespace would:
    `trade.order.filled` under `ai-trader.trade` goes to `ai-trader.trade.order.filled`.

    Raises:
        ValueError: the type is not in the `trade` namespace or is not a valid subject.
    """
    namespace, _, rest = event_type.partition(".")
    if namespace != EVENT_NAMESPACE or not _SUBJECT.match(rest):
        raise ValueError(f"event type must be {EVENT_NAMESPACE}.<entity>.<what>, was {event_type!r}")
    return f"{publish_prefix}.{rest}"


def _subject(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _SUBJECT.match(value):
        raise ValueError(f"{attribute.name} must be a subject without wildcards, was {value!r}")


def _filters(_: object, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
    # Every subscription must lead to a command: `market.session.*` does, through `opened`.
    bad = [s for s in value if not _FILTER.match(s) or command_for(s.replace("*", "opened")) is None]
    if not value or bad:
        raise ValueError(f"{attribute.name} must be subjects of known commands, was {bad or value!r}")


def _stream(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _STREAM.match(value):
        raise ValueError(f"{attribute.name} must be a name of letters, digits, - and _, was {value!r}")


def _positive(_: object, attribute: attrs.Attribute[timedelta], value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be positive, was {value}")


def subscriptions_under(root: str) -> tuple[str, ...]:
    """The spec's subscriptions, plus shutdown, under `root` (`ai-trader`)."""
    return (f"{root}.ai.decision.generated", f"{root}.market.session.*", f"{root}.system.shutdown")


@attrs.frozen(kw_only=True)
class NatsSettings:
    """How the engine meets NATS: where, under which subjects and streams, with which timeouts.

    The defaults are the spec's `eventBus` configuration: events on `ai-trader.trade.<event>`,
    commands from `ai-trader.ai.decision.generated`, `ai-trader.market.session.*` and
    `ai-trader.system.shutdown`.
    """

    url: str = "nats://127.0.0.1:4222"
    client_name: str = "trading-engine"
    source: str = DEFAULT_SOURCE
    """The `source` of every published event."""

    publish_prefix: str = attrs.field(default="ai-trader.trade", validator=_subject)
    events_stream: str = attrs.field(default="AI_TRADER_TRADE", validator=_stream)
    """Captures `<publish_prefix>.>`; created when missing."""
    duplicate_window: timedelta = attrs.field(default=timedelta(hours=1), validator=_positive)
    """How long JetStream remembers a message id: a re-sent event within it is dropped."""
    events_max_age: timedelta | None = timedelta(days=7)
    publish_timeout: timedelta = attrs.field(default=timedelta(seconds=2), validator=_positive)
    """How long a publish waits for the server's acknowledgement before it fails."""

    subscriptions: tuple[str, ...] = attrs.field(default=subscriptions_under("ai-trader"), validator=_filters)
    commands_stream: str = attrs.field(default="AI_TRADER_COMMANDS", validator=_stream)
    """Captures the subscriptions; created when missing (name an existing stream to use it instead)."""
    commands_max_age: timedelta | None = timedelta(days=1)
    consumer: str = attrs.field(default="trading-engine", validator=_stream)
    """The durable consumer's name, which is also its queue (deliver) group: replicas share it."""
    ack_wait: timedelta = attrs.field(default=timedelta(seconds=30), validator=_positive)
    """How long a delivered command may go unacknowledged; handling longer sends progress beats."""
    max_deliver: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    """Deliveries of one command before it is given up (a handler failing that often)."""
    max_ack_pending: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    """Commands delivered and not yet acknowledged, across all replicas."""
    retry_delay: timedelta = attrs.field(default=timedelta(seconds=2), validator=_positive)
    """Delay before a command whose handler failed is delivered again."""
    watch_interval: timedelta = attrs.field(default=timedelta(seconds=5), validator=_positive)
    """How often the consumer makes sure its stream and durable consumer still exist on the server
    (they are also set up again on every reconnection)."""

    create_streams: bool = True
    replicas: int = 1
    """Stream replicas, for a clustered server."""
    connect_timeout: timedelta = attrs.field(default=timedelta(seconds=2), validator=_positive)
    reconnect_time_wait: timedelta = attrs.field(default=timedelta(seconds=1), validator=_positive)

    @classmethod
    def under(cls, root: str, **overrides: object) -> NatsSettings:
        """Settings with every subject under `root` instead of `ai-trader` (for tests and staging)."""
        return cls(
            publish_prefix=f"{root}.{EVENT_NAMESPACE}",
            subscriptions=subscriptions_under(root),
            **overrides,  # type: ignore[arg-type]
        )

    @property
    def events_subjects(self) -> list[str]:
        """The subjects the events stream holds."""
        return [f"{self.publish_prefix}.>"]

    def subject_for(self, event_type: str) -> str:
        """The subject an event of `event_type` is published on."""
        return event_subject(event_type, self.publish_prefix)
