"""Commands from NATS: decisions, sessions and shutdown reach the handler once, bad ones are terminated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, ConsumerInfo

from adapters.codec import encode_json
from adapters.nats import NatsCommandConsumer, NatsSettings, connect
from adapters.nats.connection import server_at_least
from tests.contract.recording_handler import RecordingHandler
from trading_core.decisions import Decision
from trading_core.errors import BrokerError, EventBusError, InvalidOrder

pytestmark = pytest.mark.nats


class Rig:
    """A consumer running over the test's streams, its recording handler, and a client to send with."""

    def __init__(self, client: Client, handler: RecordingHandler, settings: NatsSettings) -> None:
        self.client = client
        self.handler = handler
        self.settings = settings

    async def send(self, command: str, body: bytes, *, msg_id: str | None = None) -> None:
        """Publish as another service would, into the stream that captures the subject."""
        root = self.settings.publish_prefix.removesuffix(".trade")
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await self.client.jetstream().publish(f"{root}.{command}", body, headers=headers, timeout=5)

    async def settled(self, within: float = 10.0) -> ConsumerInfo:
        """The consumer's state once nothing is pending or awaiting acknowledgement."""
        js = self.client.jetstream()
        async with asyncio.timeout(within):
            while True:
                info: ConsumerInfo = await js.consumer_info(self.settings.commands_stream, self.settings.consumer)
                if info.num_ack_pending == 0 and info.num_pending == 0:
                    return info
                await asyncio.sleep(0.05)

    async def quiet(self) -> None:
        """Wait past the acknowledgement deadline, when a message not acknowledged would come again."""
        await asyncio.sleep(self.settings.ack_wait.total_seconds() * 1.5)


@pytest.fixture
async def client(nats_settings: NatsSettings) -> AsyncIterator[Client]:
    nc = await connect(nats_settings)
    yield nc
    await nc.close()


@pytest.fixture
async def rig(client: Client, nats_settings: NatsSettings) -> AsyncIterator[Rig]:
    handler = RecordingHandler()
    consumer = NatsCommandConsumer(client, handler, nats_settings)
    await consumer.start()
    yield Rig(client, handler, nats_settings)
    await consumer.stop()


def decision(**fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "decisionId": str(uuid.uuid4()),
        "strategyId": str(uuid.uuid4()),
        "symbol": "MSFT",
        "side": "buy",
        "quantity": Decimal("2.5"),
        "type": "market",
        "approved": True,
        "confidence": Decimal("0.7"),
        "reasoning": "breakout",
    }
    body.update(fields)
    return body


DECISION = "ai.decision.generated"


async def test_a_decision_reaches_the_handler_once_and_is_acknowledged(rig: Rig) -> None:
    body = decision()

    await rig.send(DECISION, encode_json(body))
    await rig.handler.wait_for(1)
    await rig.settled()
    await rig.quiet()

    (received,) = rig.handler.decisions
    assert received.decision_id == body["decisionId"]
    assert (received.symbol, received.side, received.quantity) == ("MSFT", "buy", Decimal("2.5"))
    assert received.to_request().quantity == Decimal("2.5000")
    assert rig.handler.names() == ["decision"]


async def test_a_decision_not_approved_is_passed_on_to_be_recorded(rig: Rig) -> None:
    body = {"decisionId": str(uuid.uuid4()), "approved": False, "reasoning": "too risky"}

    await rig.send(DECISION, encode_json(body))
    await rig.handler.wait_for(1)

    assert [(d.decision_id, d.approved) for d in rig.handler.decisions] == [(body["decisionId"], False)]


async def test_the_same_decision_published_twice_reaches_the_handler_with_one_id(rig: Rig) -> None:
    """Both copies are handled and acknowledged (no redelivery); placing one order is the engine's job."""
    body = encode_json(decision())

    await rig.send(DECISION, body)
    await rig.send(DECISION, body)
    await rig.handler.wait_for(2)
    info = await rig.settled()
    await rig.quiet()

    assert len({d.decision_id for d in rig.handler.decisions}) == 1
    assert len(rig.handler.decisions) == 2
    assert info.num_redelivered == 0


async def test_a_decision_re_sent_with_its_id_as_message_id_is_dropped_by_the_stream(rig: Rig) -> None:
    body = decision()
    for _ in range(2):
        await rig.send(DECISION, encode_json(body), msg_id=str(body["decisionId"]))

    await rig.handler.wait_for(1)
    await rig.settled()
    await rig.quiet()

    assert len(rig.handler.decisions) == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        # The decoder gives up with RecursionError, which must not leave the message to come back for good.
        (b"[" * 5000, "nested too deeply"),
        (b'{"specversion": "1.0", "data": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, "nested too deeply"),
    ],
    ids=["not-json", "unclosed-lists", "deep-envelope"],
)
async def test_an_unreadable_decision_is_terminated_and_announced(rig: Rig, body: bytes, why: str) -> None:
    await rig.send(DECISION, body)
    await rig.handler.wait_for(1)
    info = await rig.settled()
    await rig.quiet()

    ((reason, raw),) = rig.handler.malformed
    assert why in reason
    assert raw is None
    assert rig.handler.names() == ["malformed"]
    assert info.num_redelivered == 0


async def test_an_invalid_decision_is_terminated_and_announced_with_its_body(rig: Rig) -> None:
    body = decision(side="hold")

    await rig.send(DECISION, encode_json(body))
    await rig.handler.wait_for(1)
    await rig.settled()
    await rig.quiet()

    ((reason, raw),) = rig.handler.malformed
    assert reason.startswith("side:")
    assert raw is not None
    assert raw["decisionId"] == body["decisionId"]
    assert rig.handler.names() == ["malformed"]


async def test_a_decision_the_handler_finds_invalid_is_terminated_and_announced(rig: Rig) -> None:
    rig.handler.fail_next(InvalidOrder("limit orders require a limit_price", field="limit_price"))

    await rig.send(DECISION, encode_json(decision(type="limit")))
    await rig.handler.wait_for(2)
    await rig.settled()
    await rig.quiet()

    assert rig.handler.names() == ["decision", "malformed"]
    assert "limit_price" in rig.handler.malformed[0][0]


async def test_a_transient_failure_is_retried_then_acknowledged(rig: Rig) -> None:
    rig.handler.fail_next(BrokerError("broker timed out", retryable=True))

    await rig.send(DECISION, encode_json(decision()))
    await rig.handler.wait_for(2)
    await rig.settled()
    await rig.quiet()

    assert rig.handler.names() == ["decision", "decision"]
    assert rig.handler.decisions[0] == rig.handler.decisions[1]


async def test_a_decision_that_keeps_failing_is_given_up_and_announced(rig: Rig) -> None:
    deliveries = rig.settings.max_deliver
    rig.handler.fail_next(*[RuntimeError("store down") for _ in range(deliveries)])

    await rig.send(DECISION, encode_json(decision()))
    await rig.handler.wait_for(deliveries + 1)
    await rig.settled()
    await rig.quiet()

    assert rig.handler.names() == ["decision"] * deliveries + ["malformed"]
    assert f"not handled after {deliveries} deliveries" in rig.handler.malformed[0][0]


@pytest.mark.parametrize(
    ("command", "body", "expected"),
    [
        ("market.session.opened", b"", "session_opened"),
        ("market.session.opened", b'{"session": "regular", "timestamp": "2026-03-02T14:30:00Z"}', "session_opened"),
        ("market.session.closed", b"{}", "session_closed"),
        ("system.shutdown", b'{"reason": "maintenance"}', "shutdown"),
        ("system.shutdown", b'{"specversion": "1.0", "id": "1", "data": {"reason": "deploy"}}', "shutdown"),
    ],
)
async def test_sessions_and_shutdown_are_routed(rig: Rig, command: str, body: bytes, expected: str) -> None:
    await rig.send(command, body)
    await rig.handler.wait_for(1)
    await rig.settled()

    assert rig.handler.names() == [expected]


async def test_commands_are_handled_in_the_order_they_were_sent(rig: Rig) -> None:
    await rig.send("market.session.opened", b"")
    await rig.send(DECISION, encode_json(decision()))
    await rig.send("market.session.closed", b"")
    await rig.send("system.shutdown", b"")

    await rig.handler.wait_for(4)

    assert rig.handler.names() == ["session_opened", "decision", "session_closed", "shutdown"]


class HeldHandler(RecordingHandler):
    """Records each call as it starts; a decision in `held` symbols then waits until `release()`."""

    def __init__(self, *held: str) -> None:
        super().__init__()
        self.held = set(held)
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def handle_decision(self, decision: Decision) -> None:
        await super().handle_decision(decision)
        if decision.symbol in self.held:
            await self._released.wait()


@pytest.fixture
async def held(client: Client, nats_settings: NatsSettings) -> AsyncIterator[Rig]:
    """A rig whose handler holds MSFT's decisions until released (and releases them at the end)."""
    handler = HeldHandler("MSFT")
    consumer = NatsCommandConsumer(client, handler, nats_settings)
    await consumer.start()
    yield Rig(client, handler, nats_settings)
    handler.release()
    await consumer.stop()


def symbols(handler: RecordingHandler) -> list[str | None]:
    return [d.symbol for d in handler.decisions]


async def test_a_decision_is_handled_while_another_symbols_is_in_hand(held: Rig) -> None:
    """Its round trips to the database and the broker do not hold up the next symbol's decisions."""
    await held.send(DECISION, encode_json(decision(symbol="MSFT")))
    await held.send(DECISION, encode_json(decision(symbol="AAPL")))
    await held.send(DECISION, encode_json(decision(symbol="NVDA")))

    await held.handler.wait_for(3)

    assert symbols(held.handler) == ["MSFT", "AAPL", "NVDA"]  # MSFT is still in hand


async def test_the_decisions_of_one_symbol_are_handled_in_turn(held: Rig) -> None:
    first, second = decision(symbol="MSFT"), decision(symbol="MSFT")
    await held.send(DECISION, encode_json(first))
    await held.send(DECISION, encode_json(second))
    await held.send(DECISION, encode_json(decision(symbol="AAPL")))

    before = await held.handler.wait_for(2)  # the second MSFT waits for the first; AAPL does not
    assert isinstance(held.handler, HeldHandler)
    held.handler.release()
    await held.handler.wait_for(3)
    await held.settled()

    assert [d.symbol for name, d in before] == ["MSFT", "AAPL"]
    assert [d.decision_id for d in held.handler.decisions if d.symbol == "MSFT"] == [
        first["decisionId"],
        second["decisionId"],
    ]


async def test_a_session_change_waits_for_the_decisions_in_hand_and_is_handled_alone(held: Rig) -> None:
    await held.send(DECISION, encode_json(decision(symbol="MSFT")))
    await held.send("market.session.closed", b"")
    await held.send(DECISION, encode_json(decision(symbol="AAPL")))  # sent after the session change

    await held.handler.wait_for(1)
    await asyncio.sleep(0.5)  # a consumer that did not wait would have gone on by now
    waiting = held.handler.names()
    assert isinstance(held.handler, HeldHandler)
    held.handler.release()
    await held.handler.wait_for(3)
    await held.settled()

    assert waiting == ["decision"]
    assert held.handler.names() == ["decision", "session_closed", "decision"]


async def test_stopping_lets_the_decisions_in_hand_finish_and_settles_them(
    client: Client, nats_settings: NatsSettings
) -> None:
    handler = HeldHandler("MSFT")
    consumer = NatsCommandConsumer(client, handler, nats_settings)
    await consumer.start()
    rig = Rig(client, handler, nats_settings)
    await rig.send(DECISION, encode_json(decision(symbol="MSFT")))
    await rig.send(DECISION, encode_json(decision(symbol="AAPL")))
    await handler.wait_for(2)

    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.2)
    stopped_early = stopping.done()
    handler.release()
    await asyncio.wait_for(stopping, 10)
    info = await rig.settled()

    assert not stopped_early
    assert info.num_ack_pending == 0
    assert symbols(handler) == ["MSFT", "AAPL"]


async def test_an_unreadable_session_message_is_terminated_without_a_call(rig: Rig) -> None:
    await rig.send("market.session.opened", b"<html>")
    await rig.send("system.shutdown", b"")  # a marker that the first was passed
    await rig.handler.wait_for(1)
    info = await rig.settled()
    await rig.quiet()

    assert rig.handler.names() == ["shutdown"]
    assert info.num_redelivered == 0


async def test_a_session_message_nested_too_deeply_is_terminated_without_a_call(rig: Rig) -> None:
    await rig.send("market.session.opened", b"[" * 5000)
    await rig.send("system.shutdown", b"")  # a marker that the first was passed
    await rig.handler.wait_for(1)
    info = await rig.settled()
    await rig.quiet()

    assert rig.handler.names() == ["shutdown"]
    assert info.num_redelivered == 0


async def test_a_long_handling_is_not_redelivered_meanwhile(rig: Rig) -> None:
    """Progress beats keep the server from handing the decision to someone else while it is handled."""
    rig.handler.delay = rig.settings.ack_wait.total_seconds() * 2.5

    await rig.send(DECISION, encode_json(decision()))
    await rig.handler.wait_for(1)
    await rig.settled()
    await rig.quiet()

    assert rig.handler.names() == ["decision"]


async def test_replicas_in_the_queue_group_share_the_work(client: Client, nats_settings: NatsSettings) -> None:
    """Two replicas on one durable consumer share the decisions and lose none.

    Delivery is at least once: under load an acknowledgement can miss its deadline and the
    decision go to the other replica too, which is why the engine keys orders on the decision id.
    """
    rig = Rig(client, RecordingHandler(), nats_settings)
    handlers = [RecordingHandler(), RecordingHandler()]
    clients = [await connect(nats_settings) for _ in handlers]
    consumers = [NatsCommandConsumer(c, h, nats_settings) for c, h in zip(clients, handlers, strict=True)]
    try:
        for c in consumers:
            await c.start()
        sent = [decision() for _ in range(40)]
        for body in sent:
            await rig.send(DECISION, encode_json(body))
        await rig.settled(within=20)

        handled = {d.decision_id for h in handlers for d in h.decisions}
        assert handled == {str(b["decisionId"]) for b in sent}
        assert all(h.decisions for h in handlers), [len(h.decisions) for h in handlers]
    finally:
        for c in consumers:
            await c.stop()
        for nc in clients:
            await nc.close()


async def test_a_restarted_consumer_resumes_where_the_durable_stopped(
    client: Client, nats_settings: NatsSettings
) -> None:
    """Commands sent while no replica listens are handled when one comes back, none twice."""
    rig = Rig(client, RecordingHandler(), nats_settings)
    first = NatsCommandConsumer(client, rig.handler, nats_settings)
    await first.start()
    await rig.send("market.session.opened", b"")
    await rig.handler.wait_for(1)
    await first.stop()

    await rig.send("market.session.closed", b"")
    second = NatsCommandConsumer(client, rig.handler, nats_settings)
    await second.start()
    try:
        await rig.handler.wait_for(2)
        await rig.settled()
    finally:
        await second.stop()

    assert rig.handler.names() == ["session_opened", "session_closed"]


async def test_a_shared_stream_is_filtered_to_our_subjects(client: Client, nats_settings: NatsSettings) -> None:
    """A stream that captures more than our commands: the consumer sees only the commands (NATS 2.10+)."""
    root = nats_settings.publish_prefix.removesuffix(".trade")
    subjects = [f"{root}.ai.>", f"{root}.market.>", f"{root}.system.>"]
    await client.jetstream().add_stream(name=nats_settings.commands_stream, subjects=subjects)
    rig = Rig(client, RecordingHandler(), nats_settings)
    consumer = NatsCommandConsumer(client, rig.handler, nats_settings)
    if not server_at_least(client, 2, 10):
        with pytest.raises(EventBusError, match=r"2\.10"):
            await consumer.start()
        return
    await consumer.start()
    try:
        await rig.send("ai.model.retrained", b"{}")
        await rig.send("system.shutdown", b"")
        await rig.handler.wait_for(1)
        await rig.settled()
    finally:
        await consumer.stop()

    assert rig.handler.names() == ["shutdown"]


async def test_a_consumer_name_taken_by_a_pull_consumer_is_refused(client: Client, nats_settings: NatsSettings) -> None:
    """Binding to someone else's consumer of another kind fails loudly instead of receiving nothing."""
    root = nats_settings.publish_prefix.removesuffix(".trade")
    js = client.jetstream()
    await js.add_stream(name=nats_settings.commands_stream, subjects=[f"{root}.ai.decision.generated"])
    await js.add_consumer(nats_settings.commands_stream, ConsumerConfig(durable_name=nats_settings.consumer))

    with pytest.raises(EventBusError, match="not a push consumer"):
        await NatsCommandConsumer(client, RecordingHandler(), nats_settings).start()
