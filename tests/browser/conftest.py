"""Debian's chromium driven by Playwright (no browser download): skipped, saying why, where it is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.live import Api, running_service

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 20_000
"""How long a condition may take to show on the page: generous, as two loaded cores are slow."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: `make chromium` installs it (as root, with apt)")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def service_url() -> Iterator[str]:
    with running_service() as live:
        yield live.url


@pytest.fixture
def api(service_url: str) -> Iterator[Api]:
    client = Api(service_url)
    yield client
    client.close()


@pytest.fixture
def page(browser: Any, service_url: str, tmp_path: Path) -> Iterator[Any]:
    """A fresh tab on the console; a screenshot of how it ended is saved in the test's folder."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(service_url)
    try:
        yield tab
        assert errors == [], f"the page's script failed: {errors}"
    finally:
        tab.screenshot(path=str(tmp_path / "console-end.png"), full_page=True)
        context.close()
