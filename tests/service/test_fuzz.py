"""Schemathesis against the OpenAPI document: no 5xx, and every response conforms to its documented schema.

The service runs for real (uvicorn on a free port) over in-memory adapters and the paper exchange;
the number of examples per operation is bounded so that CI stays quick.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.bootstrap import build
from apps.service.app import create_app
from tests.service.conftest import container_for, settings_with
from trading_core.clock import SystemClock

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]

schema = schemathesis.openapi.from_dict(create_app(build(settings_with())).openapi_schema.to_schema())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """The service on a free port in a thread of its own, for the whole module."""
    app = create_app(container_for(settings_with(), PaperExchange(SystemClock()), InMemoryEventBus()))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the service did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_response_matches_its_schema(case: Any, live_url: str) -> None:
    case.call_and_validate(base_url=live_url, checks=CHECKS)
