"""The `EventBus` port on NATS JetStream: one CloudEvent per message, deduplicated on the event id."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Final, Self

import nats.js.errors
from nats.aio.client import Client

from adapters.codec.events import CONTENT_TYPE, encode_envelope
from adapters.nats.config import NatsSettings
from adapters.nats.connection import NATS_ERRORS, connect, ensure_stream
from adapters.nats.probe import CachedHealth, connection_state, probe_context, stream_state
from adapters.nats.reconnect import Redeclaration
from trading_core.errors import EventBusError
from trading_core.ports import EventMessage

__all__ = ["NatsEventBus"]

log: Final = logging.getLogger(__name__)

MSG_ID: Final = "Nats-Msg-Id"


class NatsEventBus:
    """Publishes each message on `<publish_prefix>.<event>` and returns once JetStream has stored it.

    The event id goes in the `Nats-Msg-Id` header, so the server drops a message it already has
    (within the stream's duplicate window): a relay may re-send after any failure. A publish fails
    with `EventBusError` promptly, without buffering, when the connection is down or the server
    does not acknowledge within `publish_timeout`; the caller keeps the event and retries later.

    When `create_streams`, the events stream is set up again whenever the connection comes back
    (the server may have restarted without its store), and again before one retry when a publish
    finds no stream. `health()` reports the stream missing until then.

    Build it with `open()` (which connects and owns the connection) or over a client you manage.
    """

    def __init__(self, client: Client, settings: NatsSettings, *, owns_client: bool = False) -> None:
        self._nc = client
        self._js = client.jetstream(timeout=settings.publish_timeout.total_seconds())
        self._settings = settings
        self._owns_client = owns_client
        self._timeout = settings.publish_timeout.total_seconds()
        self._stream_health = CachedHealth(lambda: stream_state(probe_context(client), settings.events_stream))
        self._redeclaration = Redeclaration(client, self.ensure_stream, what=f"stream {settings.events_stream}")
        if settings.create_streams:
            self._redeclaration.attach()

    @classmethod
    async def open(cls, settings: NatsSettings) -> Self:
        """Connect, make sure the events stream exists, and return a bus that closes its connection.

        Raises:
            EventBusError: NATS did not answer in time or refused the stream.
        """
        client = await connect(settings, name=f"{settings.client_name}-events")
        bus = cls(client, settings, owns_client=True)
        try:
            if settings.create_streams:
                await bus.ensure_stream()
        except BaseException:
            await bus.close()
            raise
        return bus

    @property
    def client(self) -> Client:
        """The NATS connection events are published on."""
        return self._nc

    async def ensure_stream(self) -> None:
        """Create the events stream when missing (or add our subjects to it)."""
        s = self._settings
        await ensure_stream(
            self._js,
            name=s.events_stream,
            subjects=s.events_subjects,
            max_age=s.events_max_age,
            replicas=s.replicas,
            duplicate_window=s.duplicate_window,
        )

    async def publish(self, message: EventMessage) -> None:
        """Publish one message and wait for JetStream's acknowledgement.

        Raises:
            EventBusError: not connected, not acknowledged in time, or refused by the server.
        """
        subject = self._settings.subject_for(message.type)
        if not self._nc.is_connected:
            # The client would buffer the message until it reconnects; the caller's outbox is
            # the buffer we want, so refuse now and let it retry.
            raise EventBusError(f"NATS is not connected; {message.type} {message.event_id} not published")
        body = encode_envelope(message, source=self._settings.source)
        headers = {MSG_ID: str(message.event_id), "Content-Type": CONTENT_TYPE}
        try:
            try:
                ack = await self._js.publish(subject, body, timeout=self._timeout, headers=headers)
            except nats.js.errors.NoStreamResponseError:
                if not self._settings.create_streams:
                    raise
                # The stream is gone (a server that lost its store, with no reconnection seen):
                # set it up again, once.
                self._stream_health.forget()
                await self.ensure_stream()
                ack = await self._js.publish(subject, body, timeout=self._timeout, headers=headers)
        except nats.js.errors.NoStreamResponseError as e:
            raise EventBusError(f"no stream captures {subject}; {message.event_id} not published") from e
        except NATS_ERRORS as e:
            raise EventBusError(f"publishing {message.type} {message.event_id} failed: {e!r}") from e
        if ack.duplicate:
            log.debug("NATS already had %s %s", message.type, message.event_id)

    async def health(self) -> str:
        """`connected`, or a short reason the bus cannot publish now (for the health endpoint).

        Raises:
            nats.errors.Error: the server did not answer the stream probe in time.
        """
        return connection_state(self._nc) or await self._stream_health()

    async def close(self) -> None:
        """Stop re-declaring on reconnection; flush and close the connection when this bus owns it."""
        await self._redeclaration.close()
        if not self._owns_client or self._nc.is_closed:
            return
        try:
            if self._nc.is_connected:
                await self._nc.drain()
            else:
                await self._nc.close()
        except NATS_ERRORS as e:
            log.warning("closing NATS: %r", e)
            await self._nc.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
