"""Reading back what reached a JetStream stream, for assertions on what was really published."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from nats.aio.client import Client

from adapters.codec import decode_json


@attrs.frozen
class Stored:
    """One message as the stream holds it."""

    subject: str
    headers: dict[str, str]
    envelope: dict[str, Any]


async def read_stream(client: Client, stream: str) -> list[Stored]:
    """Every message in `stream`, oldest first, bodies decoded with exact numbers."""
    js = client.jetstream()
    state = (await js.stream_info(stream)).state
    stored = []
    for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        msg = await js.get_msg(stream, seq)
        stored.append(Stored(msg.subject or "", dict(msg.headers or {}), decode_json(msg.data or b"")))
    return stored


def exact(value: Any) -> Any:
    """`value` as JSON with exact numbers would read it back (for comparing payloads)."""
    import json

    from adapters.codec import encode_json

    return json.loads(encode_json(value), parse_float=Decimal)
