"""Draws docs/console.png: the console over a short session (fills, an open order, a protective
stop, prices moving), in Debian's chromium. Run: `.venv/bin/python -m tests.browser.screenshot docs/console.png`."""

from __future__ import annotations

import sys
import time
from decimal import Decimal

from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM
from tests.service.live import TOKEN, Api, running_service

PRICES = {"AAPL": Decimal("190.00"), "MSFT": Decimal("415.00"), "NVDA": Decimal("120.00")}
STEPS = 24
"""Price moves (a second apart, a snapshot each): the equity curve's points."""


def session(api: Api) -> None:
    """A morning's trading: three positions, one protected by a stop, one partly taken off, a bid resting."""
    for symbol, quantity in (("AAPL", 40), ("MSFT", 15), ("NVDA", 60)):
        assert api.submit(symbol=symbol, side="buy", quantity=quantity, type="market").status_code == 201
    stop = api.submit(symbol="AAPL", side="sell", quantity=40, type="stop", stopPrice=182, timeInForce="gtc")
    assert stop.status_code == 201, stop.text
    bid = api.submit(symbol="JPM", side="buy", quantity=10, type="limit", limitPrice=195.5, timeInForce="gtc")
    assert bid.status_code == 201, bid.text
    for step in range(STEPS):
        for n, (symbol, start) in enumerate(PRICES.items()):
            drift = Decimal((step * (n + 2)) % 7 - 2) / 4 + Decimal(step) / 10 * (1 if n != 1 else -1)
            api.set_price(symbol, str(start + drift))
        time.sleep(1)
    assert api.submit(symbol="NVDA", side="sell", quantity=20, type="market").status_code == 201


def main(target: str) -> None:
    with running_service(TRADING_ENGINE_SYNC_SNAPSHOT_INTERVAL="1000") as live, sync_playwright() as playwright:
        url = live.url
        api = Api(url)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 940})
        page.goto(url)
        page.get_by_test_id("token-input").fill(TOKEN)
        page.get_by_test_id("token-save").click()
        expect(page.get_by_test_id("feed-status")).to_have_text("feed: live")
        session(api)  # with the page open, so that the live feed shows it
        expect(page.locator("#feed [data-kind='trade.position.updated']")).to_have_count(1)
        expect(page.locator("#equity-curve svg")).to_have_count(1)
        page.wait_for_timeout(500)  # the refresh the last event set off
        page.screenshot(path=target)
        browser.close()
        api.close()


if __name__ == "__main__":
    main(sys.argv[1])
