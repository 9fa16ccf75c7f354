"""The order poll reads the broker's open orders in one request, not one each (Alpaca allows 200 a
minute: twenty resting orders polled every 5 s would take them all), and reads on its own only an
order the listing does not show."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from adapters.alpaca.broker import AlpacaBroker
from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from apps.alpaca_sim import SimServer
from tests.contract.alpaca.support import GENEROUS
from tests.contract.alpaca_sim_support import api
from trading_core import SystemClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.enums import OrderStatus, OrderType, Side
from trading_core.requests import OrderRequest

SYMBOLS = ("AAPL", "MSFT", "NVDA", "JPM", "XOM")


def requests(sim: SimServer) -> Counter[str]:
    return Counter(sim.traffic()["requests"])


async def test_the_poll_lists_the_open_orders_once_and_reads_only_the_one_closed_behind_its_back(
    broker: AlpacaBroker, alpaca_sim: SimServer
) -> None:
    engine = TradingEngine(
        broker=broker,
        market_data=broker,
        store=InMemoryOrderStore(payload_of=event_payload),
        clock=SystemClock(),
        config=EngineConfig(limits=GENEROUS),
    )
    await engine.start()  # no update task: what the stream says waits in the inbox
    resting = []
    for symbol in SYMBOLS:
        request = OrderRequest.create(
            symbol=symbol, side=Side.BUY, type=OrderType.LIMIT, quantity=Decimal(1), limit_price=Decimal(1)
        )
        resting.append((await engine.submit(request)).order)
    gone = resting[0]
    assert gone.broker_order_id is not None
    async with api(alpaca_sim) as http:  # cancelled behind our back
        assert (await http.delete(f"/v2/orders/{gone.broker_order_id}")).status_code == 204
    before = requests(alpaca_sim)

    corrections = await engine.reconcile_orders()

    # Only the orders' endpoints: under load, a read of the account or the clock made by the engine's
    # own timers can land in the same window, and says nothing of the poll.
    asked = Counter({k: n for k, n in (requests(alpaca_sim) - before).items() if k.startswith("GET /v2/orders")})
    statuses = [(await engine.get_order(o.id)).status for o in resting]
    assert asked == Counter({"GET /v2/orders": 1, "GET /v2/orders/{order_id}": 1})
    assert corrections == 1
    assert statuses == [OrderStatus.CANCELED] + [OrderStatus.NEW] * 4
