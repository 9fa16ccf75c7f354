"""What a strategy author can get wrong, and what the engine does then: clear errors, no double orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.codec.events import event_payload
from adapters.memory.store import InMemoryOrderStore
from adapters.paper import PaperExchange
from tests.unit.engine.conftest import GENEROUS, market
from trading_core import Event, OrderStatus, RiskEngine, RiskLimits, SubmitStatus, TestClock
from trading_core.engine import EngineConfig, TradingEngine
from trading_core.requests import OrderRequest
from trading_core.risk import Rejection, RiskContext


async def test_a_listener_that_raises_neither_fails_the_submission_nor_starves_the_others(
    engine: TradingEngine, exchange: PaperExchange, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("strategy bug")

    engine.subscribe(broken)
    engine.subscribe(heard.append)

    result = await engine.submit(market("AAPL", "buy", 1))  # a retry after an error here would buy twice

    assert result.order.status is OrderStatus.FILLED
    assert [e.TYPE for e in heard] == ["trade.order.submitted", "trade.order.filled", "trade.position.opened"]
    assert "event listener" in caplog.text
    assert "strategy bug" in caplog.text


async def test_an_async_listener_is_refused_when_subscribed(engine: TradingEngine) -> None:
    async def listener(event: Event) -> None: ...

    class Handler:
        async def __call__(self, event: Event) -> None: ...

    for wrong in (listener, Handler()):
        with pytest.raises(TypeError, match="called, not awaited"):
            engine.subscribe(wrong)  # type: ignore[arg-type]


def _tight_position(request: OrderRequest, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
    return None


def test_limits_given_twice_differently_are_refused(exchange: PaperExchange, clock: TestClock) -> None:
    store = InMemoryOrderStore(payload_of=event_payload)
    tight = RiskLimits(max_position_size_percent=Decimal(1))
    risk = RiskEngine().with_rules([("mine", _tight_position)])

    with pytest.raises(ValueError, match="given twice"):
        TradingEngine(broker=exchange, store=store, clock=clock, config=EngineConfig(limits=tight), risk=risk)
    engine = TradingEngine(broker=exchange, store=store, clock=clock, risk=RiskEngine(tight).with_rules([]))
    assert engine.config.limits == tight


def test_a_rule_name_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="buyingPower given twice"):
        RiskEngine().with_rules([("buyingPower", _tight_position)])


async def test_a_rule_that_fails_refuses_the_order(exchange: PaperExchange, clock: TestClock) -> None:
    def crashing(request: OrderRequest, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
        raise ZeroDivisionError("bug")

    def wrong_type(request: OrderRequest, ctx: RiskContext, limits: RiskLimits) -> Rejection | None:
        return "no"  # type: ignore[return-value]

    risk = RiskEngine(GENEROUS).with_rules([("crashing", crashing), ("wrongType", wrong_type)])
    engine = TradingEngine(
        broker=exchange,
        store=InMemoryOrderStore(payload_of=event_payload),
        clock=clock,
        market_data=exchange,
        risk=risk,
    )
    await engine.start()

    result = await engine.submit(market("AAPL", "buy", 1))

    assert result.status is SubmitStatus.REJECTED
    assert result.validation is not None
    assert (result.validation.checks["crashing"], result.validation.checks["wrongType"]) == (False, False)
    assert result.validation.rejection_code == "RISK_REJECTED"
    assert result.validation.rejection_reason == "the crashing check failed: ZeroDivisionError('bug')"
    assert await exchange.list_positions() == []
