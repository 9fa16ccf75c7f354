"""The whole engine in one process, on the paper exchange: for strategy code, notebooks and tests."""

from __future__ import annotations

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from trading_core.clock import Clock, SystemClock
from trading_core.engine import EngineConfig, TradingEngine


async def start_paper_engine(
    *,
    config: EngineConfig | None = None,
    paper: PaperConfig | None = None,
    clock: Clock | None = None,
) -> tuple[TradingEngine, PaperExchange]:
    """A started engine trading on a fresh paper exchange, keeping everything in memory.

    Returns the engine and the exchange, whose controls (`set_price`, `step_prices`,
    `open_market`, `close_market`) drive the simulated market. Events reach the listeners given
    to `engine.subscribe`; with no event bus to relay them to, the store keeps no outbox, so
    memory grows only with the orders and fills it stores.
    """
    clock = clock or SystemClock()
    exchange = PaperExchange(clock, config=paper)
    store = InMemoryOrderStore(payload_of=event_payload, outbox=False)
    engine = TradingEngine(broker=exchange, store=store, clock=clock, market_data=exchange, config=config)
    await engine.start()
    return engine, exchange
