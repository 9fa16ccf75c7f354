"""The console page in a real headless chromium, against the running service: what the operator sees
and steers. Each test saves screenshots in its own output folder (tmp_path)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.paper import PaperExchange
from tests.browser.conftest import TIMEOUT_MS
from tests.service.live import TOKEN, Api, running_service
from trading_core.broker_models import BrokerOrder
from trading_core.clock import SystemClock
from trading_core.errors import OrderInDoubt
from trading_core.orders import Order

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
expect = sync_api.expect
expect.set_options(timeout=TIMEOUT_MS)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser"), pytest.mark.timeout(180)]


def sign_in(page: Any) -> None:
    """The token is asked for once (the service has one), then the feed goes live."""
    expect(page.get_by_test_id("token-input")).to_be_visible()
    page.get_by_test_id("token-input").fill(TOKEN)
    page.get_by_test_id("token-save").click()
    expect(page.get_by_test_id("feed-status")).to_have_text("feed: live")
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)


def confirm(page: Any) -> None:
    dialog = page.get_by_test_id("confirm")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("confirm-yes").click()


def resting_buy(api: Api, symbol: str = "AAPL") -> str:
    """A limit buy far under the market: it stays open."""
    answer = api.submit(symbol=symbol, side="buy", quantity=3, type="limit", limitPrice=100, timeInForce="gtc")
    assert answer.status_code == 201, answer.text
    return str(answer.json()["orderId"])


def cheap_resting_buy(api: Api) -> str:
    """A limit buy of 1 at $1: hundreds of them stay within the position limit."""
    answer = api.submit(symbol="AAPL", side="buy", quantity=1, type="limit", limitPrice=1, timeInForce="gtc")
    assert answer.status_code == 201, answer.text
    return str(answer.json()["orderId"])


def test_the_page_loads_without_a_token_and_keeps_the_token_out_of_every_url(page: Any, tmp_path: Path) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    sign_in(page)
    page.screenshot(path=str(tmp_path / "signed-in.png"))

    assert page.evaluate("sessionStorage.getItem('trading-engine.token')") == TOKEN
    assert requests
    assert not [url for url in requests if TOKEN in url]


def test_on_a_service_without_a_token_the_page_works_at_once(browser: Any, tmp_path: Path) -> None:
    """The embedded default (`make run`) has no token: nothing is asked, the feed goes live."""
    with running_service(token=None) as live:
        context = browser.new_context()
        page = context.new_page()
        page.goto(live.url)

        expect(page.get_by_test_id("feed-status")).to_have_text("feed: live")
        expect(page.locator("body[data-loaded=true]")).to_have_count(1)
        expect(page.get_by_test_id("trading-state")).to_have_text("trading: active")
        assert page.locator("#token-panel").is_hidden()
        page.screenshot(path=str(tmp_path / "no-token.png"))
        context.close()


def test_an_order_placed_through_the_api_appears_and_is_cancelled_from_the_page(
    page: Any, api: Api, tmp_path: Path
) -> None:
    sign_in(page)

    order_id = resting_buy(api)
    row = page.locator(f"tr[data-order-id='{order_id}']")
    expect(row).to_contain_text("AAPL")
    expect(row).to_contain_text("limit")
    page.screenshot(path=str(tmp_path / "order-shown.png"))
    row.get_by_test_id("cancel-order").click()

    expect(row).to_have_count(0)
    expect(page.get_by_test_id("feed").locator("[data-kind='trade.order.cancelled']")).to_contain_text("AAPL")
    assert api.order(order_id)["status"] == "cancelled"
    page.screenshot(path=str(tmp_path / "order-cancelled.png"))


def test_more_open_orders_than_the_page_lists_are_said_to_be_more(page: Any, api: Api, tmp_path: Path) -> None:
    """The page lists the newest 200 open orders: with 201 open, its count reads "200+" (not "200",
    which passed the page's size off as the number open) and a line says the rest are not listed."""
    sign_in(page)
    count, more = page.locator("#orders-count"), page.get_by_test_id("orders-more")
    first = resting_buy(api)
    expect(count).to_have_text("1")
    assert more.is_hidden()

    newest = [cheap_resting_buy(api) for _ in range(200)][-1]
    page.evaluate("refreshAll()")

    expect(count).to_have_text("200+")
    expect(more).to_be_visible()
    expect(more).to_contain_text("Only the newest 200 open orders are listed")
    expect(page.locator("#orders-body tr[data-order-id]")).to_have_count(200)
    expect(page.locator(f"tr[data-order-id='{newest}']")).to_have_count(1)
    expect(page.locator(f"tr[data-order-id='{first}']")).to_have_count(0)  # the oldest is the one left out
    page.screenshot(path=str(tmp_path / "more-orders.png"))

    api.client.delete(f"/api/v1/orders/{newest}").raise_for_status()
    page.evaluate("refreshAll()")
    expect(count).to_have_text("200")  # now every open order is listed
    expect(more).to_be_hidden()


def test_a_fill_arrives_in_the_feed_without_a_reload(page: Any, api: Api, tmp_path: Path) -> None:
    sign_in(page)
    page.evaluate("window.notReloaded = true")

    answer = api.submit(symbol="MSFT", side="buy", quantity=5, type="market")
    assert answer.status_code == 201, answer.text

    fill = page.get_by_test_id("feed").locator("[data-kind='trade.order.filled']")
    expect(fill).to_contain_text("MSFT")
    expect(fill).to_contain_text("buy 5 @")
    expect(page.locator("tr[data-symbol='MSFT']")).to_contain_text("long")
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=str(tmp_path / "fill-in-feed.png"), full_page=True)


def test_the_kill_switch_cancels_closes_and_halts_and_the_api_then_refuses_new_orders(
    page: Any, api: Api, tmp_path: Path
) -> None:
    sign_in(page)
    assert api.submit(symbol="MSFT", side="buy", quantity=5, type="market").status_code == 201
    order_id = resting_buy(api)
    expect(page.locator(f"tr[data-order-id='{order_id}']")).to_have_count(1)
    expect(page.locator("tr[data-symbol='MSFT']")).to_have_count(1)

    page.get_by_test_id("cancel-all").click()
    confirm(page)
    expect(page.locator(f"tr[data-order-id='{order_id}']")).to_have_count(0)
    page.get_by_test_id("close-all").click()
    confirm(page)
    expect(page.locator("tr[data-symbol='MSFT']")).to_have_count(0)
    page.get_by_test_id("halt").click()
    confirm(page)
    expect(page.get_by_test_id("trading-state")).to_have_text("trading: halted")
    page.screenshot(path=str(tmp_path / "halted.png"), full_page=True)

    refused = api.submit(symbol="AAPL", side="buy", quantity=1, type="market")
    assert (refused.status_code, refused.json()["code"]) == (422, "TRADING_HALTED")
    assert api.order(order_id)["status"] == "cancelled"
    assert api.client.get("/api/v1/positions").json()["positions"] == []


def test_a_kill_switch_action_waits_for_its_confirmation(page: Any, api: Api) -> None:
    sign_in(page)

    page.get_by_test_id("halt").click()
    page.get_by_test_id("confirm").get_by_test_id("confirm-no").click()

    expect(page.get_by_test_id("confirm")).to_be_hidden()
    assert api.client.get("/api/v1/risk").json()["tradingState"] == "active"
    assert api.submit(symbol="AAPL", side="buy", quantity=1, type="market").status_code == 201


def test_an_api_refusal_is_shown_with_its_code_and_message(page: Any, api: Api, tmp_path: Path) -> None:
    """Resuming while today's loss is over the limit is refused (409 DAILY_LOSS_LIMIT_STANDS): the page says so."""
    sign_in(page)
    assert api.submit(symbol="AAPL", side="buy", quantity=50, type="market").status_code == 201
    expect(page.locator("tr[data-symbol='AAPL']")).to_have_count(1)
    api.set_price("AAPL", "100.00")  # a loss of 4,500 on 100,000: over the 3 % limit
    page.get_by_test_id("halt").click()
    confirm(page)
    expect(page.get_by_test_id("trading-state")).to_have_text("trading: halted")

    page.get_by_test_id("risk-reset").click()
    confirm(page)

    expect(page.get_by_test_id("error-code")).to_have_text("DAILY_LOSS_LIMIT_STANDS")
    expect(page.get_by_test_id("error-message")).to_contain_text("today's loss")
    page.screenshot(path=str(tmp_path / "refusal-shown.png"))


def test_an_outage_shown_on_the_page_is_cleared_once_the_service_answers_again(page: Any, tmp_path: Path) -> None:
    """A refresh that found the service gone says so; once it answers again, the page must not go
    on claiming it is unreachable (an operator back after a restart would believe it still down)."""
    sign_in(page)
    page.route("**/api/v1/**", lambda route: route.abort())  # the service gone: every read fails
    page.evaluate("refreshAll()")
    expect(page.get_by_test_id("error-code")).to_have_text("UNREACHABLE")
    page.screenshot(path=str(tmp_path / "outage.png"))

    page.unroute("**/api/v1/**")
    page.evaluate("refreshAll()")
    expect(page.get_by_test_id("error")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "recovered.png"))


def test_an_error_of_the_operators_own_action_stays_until_dismissed(page: Any, api: Api) -> None:
    """Only an outage clears by itself: a refusal of what the operator asked stays after a refresh."""
    sign_in(page)
    page.evaluate(
        "act(() => api('POST', '/api/v1/orders', {symbol: 'AAPL', side: 'buy', quantity: 0, type: 'market'}))"
    )
    expect(page.get_by_test_id("error")).to_be_visible()
    expect(page.get_by_test_id("error-code")).to_have_text("INVALID_ORDER")
    page.evaluate("refreshAll()")  # resolves once the refresh has succeeded
    assert page.get_by_test_id("error").is_visible()


def test_the_page_loads_without_a_failed_request(browser: Any, tmp_path: Path) -> None:
    """Not even the browser's own favicon request: each failed load is an error in the console,
    which hides the ones an operator should see."""
    with running_service(token=None) as live:
        context = browser.new_context()
        page = context.new_page()
        failed: list[str] = []
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.on("console", lambda m: m.type == "error" and failed.append(m.text))
        page.goto(live.url)
        expect(page.get_by_test_id("feed-status")).to_have_text("feed: live")
        expect(page.locator("body[data-loaded=true]")).to_have_count(1)
        page.evaluate("refreshAll()")
        context.close()
        assert failed == []


class LostGateway(PaperExchange):
    """A gateway that timed out before the broker had the order: every submission is in doubt."""

    async def submit_order(self, order: Order) -> BrokerOrder:
        raise OrderInDoubt(f"order {order.client_order_id} is in doubt: 504 from the gateway")

    async def get_order_by_client_id(self, client_order_id: Any) -> BrokerOrder | None:
        return None


def test_an_order_in_doubt_is_shown_as_such(browser: Any, tmp_path: Path) -> None:
    """Not as a plain `pending new`, which an order the broker acknowledged also reads; and at all,
    though no event announces it."""
    with running_service(token=None, exchange=LostGateway(SystemClock())) as live:
        context = browser.new_context()
        page = context.new_page()
        page.goto(live.url)
        expect(page.get_by_test_id("feed-status")).to_have_text("feed: live")
        expect(page.locator("body[data-loaded=true]")).to_have_count(1)  # it is not in the first read
        with httpx.Client(base_url=live.url) as client:
            answer = client.post(
                "/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market"}
            )
        assert answer.status_code == 202, answer.text

        row = page.locator(f"tr[data-order-id='{answer.json()['orderId']}']")
        expect(row.locator(".in-doubt")).to_have_text("in doubt")
        page.screenshot(path=str(tmp_path / "in-doubt.png"), full_page=True)
        context.close()


def settled(page: Any, reads: list[float], quiet: float = 1.0) -> None:
    """Wait until `quiet` seconds have passed since the last of `reads`, which a handler of `page`
    keeps (Playwright runs it while the page is waited on, not in a plain sleep)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if reads and time.monotonic() - reads[-1] > quiet:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the page went on reading: {len(reads)} reads")


def test_when_the_feed_overflows_the_page_is_read_again_and_says_events_were_skipped(
    browser: Any, tmp_path: Path
) -> None:
    """The server lets a stream that fell behind go with an `overflow` event: the events in between
    never come. The page must not go on showing what they changed (here trading halted, which no
    poll reads) until some later event, nor hide the gap in its feed.

    A queue of one event overflows on a market order's first run of events (submitted, filled,
    closed), before any of them reaches the page; reconnecting is refused, so that only the
    overflow itself can have read the page again (a reconnect's `ready` reads it too)."""
    with running_service(token=None, event_queue_size=1) as live, httpx.Client(base_url=live.url) as client:
        bought = client.post("/api/v1/orders", json={"symbol": "MSFT", "side": "buy", "quantity": 5, "type": "market"})
        assert bought.status_code == 201, bought.text
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        risk_reads: list[float] = []
        page.on("requestfinished", lambda r: "/api/v1/risk" in r.url and risk_reads.append(time.monotonic()))
        page.goto(live.url)
        expect(page.get_by_test_id("feed-status")).to_have_text("feed: live")
        expect(page.locator("body[data-loaded=true]")).to_have_count(1)
        expect(page.locator("tr[data-symbol='MSFT']")).to_have_count(1)
        expect(page.get_by_test_id("feed").locator("[data-kind='trade.order.filled']")).to_contain_text("buy 5")
        settled(page, risk_reads)  # the start's reads are over: nothing reads the risk state again but a refresh
        page.route("**/api/v1/events/stream", lambda route: route.abort())  # no reconnect from now on

        assert client.post("/api/v1/risk/halt", json={"by": "test", "reason": "overflow"}).status_code == 200
        sold = client.post("/api/v1/orders", json={"symbol": "MSFT", "side": "sell", "quantity": 5, "type": "market"})
        assert sold.status_code == 201, sold.text

        expect(page.get_by_test_id("trading-state")).to_have_text("trading: halted")
        expect(page.get_by_test_id("error-code")).to_have_text("FEED_OVERFLOW")
        expect(page.get_by_test_id("error-message")).to_contain_text("skipped")
        feed = page.get_by_test_id("feed")
        expect(feed.locator("[data-kind='overflow']")).to_contain_text("skipped")
        expect(feed.locator("[data-kind='trade.order.filled']").first).to_contain_text("sell 5 @")
        expect(page.locator("tr[data-symbol='MSFT']")).to_have_count(0)
        expect(page.get_by_test_id("feed-status")).to_have_text("feed: reconnecting")
        page.screenshot(path=str(tmp_path / "feed-overflow.png"))
        context.close()
