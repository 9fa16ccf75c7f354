"""Reading what the service published on NATS: every message of a test's events stream, in order."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import nats


async def published(nats_url: str, stream: str) -> list[dict[str, Any]]:
    """The CloudEvents envelopes in `stream`, oldest first."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        if not info.state.messages:
            return []
        messages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await js.get_msg(stream, seq)
            messages.append(json.loads(raw.data or b"{}", parse_float=Decimal))
        return messages
    finally:
        await nc.close()


async def publish_command(nats_url: str, subject: str, body: dict[str, Any], msg_id: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(subject, json.dumps(body).encode(), headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


async def published_with_subjects(nats_url: str, stream: str) -> list[tuple[str, dict[str, Any]]]:
    """(subject, envelope) of every message in `stream`, oldest first."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        if not info.state.messages:
            return []
        messages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await js.get_msg(stream, seq)
            messages.append((raw.subject or "", json.loads(raw.data or b"{}", parse_float=Decimal)))
        return messages
    finally:
        await nc.close()


async def publish_raw(nats_url: str, subject: str, data: bytes, msg_id: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(subject, data, headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()
