"""Wire formats of the engine's messages: events out (CloudEvents JSON), commands in, exact numbers."""

from adapters.codec._json import decode_json, encode_json, encode_positional
from adapters.codec.events import (
    CONTENT_TYPE,
    DEFAULT_SOURCE,
    SPECVERSION,
    EncodedEvent,
    EventRecord,
    encode_envelope,
    envelope,
    event_payload,
    rfc3339,
)

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_SOURCE",
    "SPECVERSION",
    "EncodedEvent",
    "EventRecord",
    "decode_json",
    "encode_envelope",
    "encode_json",
    "encode_positional",
    "envelope",
    "event_payload",
    "rfc3339",
]
