"""The whole engine in one process, on the paper exchange: for strategy code, notebooks and tests."""

from __future__ import annotations

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperConfig, PaperExchange
from trading_core.clock import Clock, SystemClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.risk import RiskEngine


async def start_paper_engine(
    *,
    config: EngineConfig | None = None,
    paper: PaperConfig | None = None,
    clock: Clock | None = None,
    risk: RiskEngine | None = None,
) -> tuple[TradingEngine, PaperExchange]:
    """A started engine trading on a fresh paper exchange, keeping everything in memory.

    Returns the engine and the exchange, whose controls (`set_price`, `step_prices`,
    `open_market`, `close_market`) drive the simulated market. Events reach the listeners given
    to `engine.subscribe`; with no event bus to relay them to, the store keeps no outbox, so
    memory grows only with the orders and fills it stores. `risk` is a risk engine with rules of
    your own (`RiskEngine(limits).with_rules(...)`).

    The exchange's trade updates (a resting order filled by `set_price`, say) are applied when the
    engine is told to: `await engine.process_updates()` applies those that have arrived, and
    `engine.run_updates()`, as a task, applies them as they come.
    """
    clock = clock or SystemClock()
    exchange = PaperExchange(clock, config=paper)
    store = InMemoryOrderStore(payload_of=event_payload, outbox=False)
    engine = TradingEngine(broker=exchange, store=store, clock=clock, market_data=exchange, config=config, risk=risk)
    await engine.start()
    return engine, exchange
