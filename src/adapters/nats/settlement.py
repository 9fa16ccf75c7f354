"""How each command taken from NATS is settled: handled (`ack`), invalid (`term` with the reason),
or failed (`nak` with a delay, until `max_deliver`; then given up like an invalid one).

A decision that is given up, or invalid, is announced to the handler as malformed first. A
handler that runs long sends progress beats so the server does not redeliver it meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from adapters.codec.commands import InvalidCommand, decode_command
from adapters.nats.config import Command, NatsSettings
from adapters.nats.connection import NATS_ERRORS
from trading_core.decisions import CommandHandler
from trading_core.errors import InvalidOrder

__all__ = ["Settlement", "decode_body", "settling"]

log: Final = logging.getLogger("adapters.nats.consumer")

_TERM: Final = b"+TERM"
_MAX_REASON: Final = 256


class Settlement:
    """Handles a command with its handler and settles the message by the outcome.

    Args:
        client: The connection the messages came on (a `+TERM` with a reason is published on it).
        handler: Where commands go, and malformed decisions are announced.
        settings: `ack_wait` (the progress beat), `max_deliver` and `retry_delay`.
    """

    def __init__(self, client: Client, handler: CommandHandler, settings: NatsSettings) -> None:
        self._nc = client
        self._handler = handler
        self._settings = settings
        self.term_reasons = False
        """Whether a termination carries its reason (NATS 2.10+; set once connected)."""

    async def handle(
        self, msg: Msg, command: Command, call: Callable[[], Awaitable[None]], raw: Mapping[str, Any] | None
    ) -> None:
        """Run `call` for the command and settle it: ack, term as invalid, or nak to retry."""
        try:
            await self._with_progress(msg, call())
        except InvalidOrder as e:
            await self.invalid(msg, command, str(e), raw)
        except Exception as e:
            await self._failed(msg, command, e, raw)
        else:
            await msg.ack()

    async def _with_progress(self, msg: Msg, work: Awaitable[None]) -> None:
        """Await `work`, telling the server now and then that it is in progress."""
        task = asyncio.ensure_future(work)
        beat = self._settings.ack_wait.total_seconds() / 3
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=beat)
                if done:
                    return task.result()
                try:
                    await msg.in_progress()
                except NATS_ERRORS as e:
                    log.debug("progress beat failed: %r", e)
        finally:
            if not task.done():
                task.cancel()

    async def _failed(self, msg: Msg, command: Command, error: Exception, raw: Mapping[str, Any] | None) -> None:
        deliveries = _deliveries(msg)
        if deliveries < self._settings.max_deliver:
            log.warning("%s failed on delivery %d, retrying: %r", command, deliveries, error, exc_info=error)
            await msg.nak(delay=self._settings.retry_delay.total_seconds())
            return
        reason = f"not handled after {deliveries} deliveries: {error}"
        log.error("%s given up: %s", command, reason, exc_info=error)
        if command is Command.DECISION and not await self._announce(msg, reason, raw):
            return
        await self._term(msg, reason)

    async def invalid(self, msg: Msg, command: Command | None, reason: str, raw: Mapping[str, Any] | None) -> None:
        """Terminate an invalid command (announced first when it is a decision)."""
        log.warning("invalid command on %s (stream seq %s): %s", msg.subject, _seq(msg), reason)
        if command is Command.DECISION and not await self._announce(msg, reason, raw):
            return
        await self._term(msg, reason)

    async def _announce(self, msg: Msg, reason: str, raw: Mapping[str, Any] | None) -> bool:
        """Tell the handler a decision was dropped; False (and nak'd) when that failed and may be retried."""
        try:
            await self._handler.decision_malformed(reason, raw)
        except Exception as e:
            if _deliveries(msg) < self._settings.max_deliver:
                log.warning("announcing a malformed decision failed, retrying: %r", e, exc_info=e)
                await msg.nak(delay=self._settings.retry_delay.total_seconds())
                return False
            log.error("announcing a malformed decision failed, giving up: %r", e, exc_info=e)
        return True

    async def _term(self, msg: Msg, reason: str) -> None:
        if not self.term_reasons:
            await msg.term()
            return
        # `+TERM <reason>` (NATS 2.10+) puts the reason in the server's MSG_TERMINATED advisory.
        text = " ".join(reason.split())[:_MAX_REASON]
        await self._nc.publish(msg.reply, _TERM + b" " + text.encode("utf-8", "replace"))


async def settling(msg: Msg, handling: Awaitable[None]) -> None:
    """Handle and settle a command; a settlement that fails is left to the server's redelivery."""
    try:
        await handling
    except NATS_ERRORS as e:
        # Settling failed (the connection dropped): the server redelivers after ack_wait.
        log.warning("could not settle a command on %s: %r", msg.subject, e)


def decode_body(data: bytes, schema: str, *, allow_empty: bool = False) -> dict[str, Any]:
    """`decode_command`, with a body nested too deeply to decode refused like any unreadable one.

    The decoder raises RecursionError past Python's recursion limit (`[` * 5000): left to the
    client, such a message was neither acknowledged nor terminated and came back every ack_wait.

    Raises:
        InvalidCommand: the body cannot be decoded (`decode_command`), or is nested too deeply.
    """
    try:
        return decode_command(data, schema, allow_empty=allow_empty)
    except RecursionError:
        raise InvalidCommand("the message body is nested too deeply to be read") from None


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered or 1)
    except (ValueError, AttributeError, nats.errors.Error):
        return 1


def _seq(msg: Msg) -> int | None:
    try:
        return msg.metadata.sequence.stream
    except (ValueError, AttributeError, nats.errors.Error):
        return None
