"""Schemathesis against the service's own OpenAPI document, every check and every phase enabled.

The service runs for real (uvicorn on a free port, with a bearer token) over in-memory adapters
and the paper exchange. `st run --checks all` runs the examples, coverage, fuzzing and stateful
phases (following the document's links from a submitted order to its get, modify and cancel)
with every check: no server error, responses as documented (status, content type, headers,
schema), schema-valid data accepted (`positive_data_acceptance`: 422 counts, being a refusal of
what is asked, see schemathesis.toml), schema-violating data refused (`negative_data_rejection`),
undeclared methods answered 405 with `Allow`, and the security checks (`ignored_auth`: every
operation but /health and /metrics answers 401 without the token). The number of examples per
operation is bounded so that `make test` stays quick; TRADING_TEST_SCHEMATHESIS_SEED and
TRADING_TEST_SCHEMATHESIS_EXAMPLES vary the run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.service.app import create_app
from tests.service.conftest import container_for, settings_with
from trading_core.clock import SystemClock

# about 30 s alone; several times that beside the rest of the suite on two loaded cores
pytestmark = [pytest.mark.slow, pytest.mark.schemathesis, pytest.mark.timeout(420)]

TOKEN = "schemathesis-token"  # the test service's own
MAX_EXAMPLES = int(os.environ.get("TRADING_TEST_SCHEMATHESIS_EXAMPLES", "40"))
SEED = int(os.environ.get("TRADING_TEST_SCHEMATHESIS_SEED", "1"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
"""The rules the schema cannot say, checked (see the module)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """The service on a free port in a thread of its own, for the whole module."""
    settings = settings_with(TRADING_API_TOKEN=TOKEN)
    app = create_app(container_for(settings, PaperExchange(SystemClock()), InMemoryEventBus()))
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


def test_the_service_keeps_to_its_openapi_document_under_every_schemathesis_check(
    live_url: str, tmp_path: Path
) -> None:
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color"),
        *("run", f"{live_url}/schema/openapi.json", "--checks", "all", "--mode", "all"),
        *("--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(MAX_EXAMPLES)),
        *("--seed", str(SEED), "--header", f"Authorization: Bearer {TOKEN}", "--workers", "1"),
        *("--generation-database", "none", "--report-dir", str(tmp_path)),
    ]

    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path, env=env)

    assert run.returncode == 0, f"schemathesis found failures:\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
    assert "Stateful" in run.stdout  # every phase ran
