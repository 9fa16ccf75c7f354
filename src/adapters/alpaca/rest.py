"""Alpaca's REST API over one injected `httpx.AsyncClient`: auth, the budget, bounded retries.

Every request takes a token from its host's `RequestBudget` (in its priority class), carries
the two key headers, and feeds the rate-limit headers of its answer back to the budget. A request
waits for its token until the retry deadline, except a `patient` one (bars, snapshots), which
waits as long as the budget needs and then has the whole deadline for its retries. Failed
requests are tried again with jittered exponential backoff, at most `max_attempts` times and
never starting after `deadline` seconds, but only when trying again cannot do anything twice:

    answer / failure                       Retry.READ (idempotent)   Retry.ONCE (creates something)
    429                                    again                     again (a 429 does nothing)
    connect error (nothing was sent)       again                     again
    5xx, timeout, dropped connection       again                     raise Unanswered: the caller
                                                                     looks the result up instead
    any other 4xx                          raise the mapped error    raise the mapped error

Foreign errors never leave this module: httpx failures and Alpaca's answers become the core's
errors (see `errors.py`), chained with `from`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from enum import Enum
from typing import Any

import attrs
import httpx

from adapters.alpaca.backoff import Backoff
from adapters.alpaca.budget import Priority, RequestBudget
from adapters.alpaca.codec import WireError, decode, encode
from adapters.alpaca.config import AlpacaSettings
from adapters.alpaca.errors import AlpacaAnswer, Operation, Unanswered, from_answer, from_transport, is_unsent
from trading_core.errors import BrokerError, TradingError

__all__ = ["AlpacaRestClient", "Host", "Retry"]

log = logging.getLogger("adapters.alpaca.rest")

Sleep = Callable[[float], Coroutine[Any, Any, None]]


class Retry(Enum):
    """Whether a request may be sent again after an ambiguous failure."""

    READ = "read"
    """Idempotent: asking again changes nothing (reads, and cancels: a cancel is idempotent)."""
    ONCE = "once"
    """Creates something (an order): sent again only when it surely was not carried out."""


class Host(Enum):
    """Which of Alpaca's APIs a request goes to; each has its own request budget."""

    TRADING = "trading"
    DATA = "data"


@attrs.frozen
class Request:
    """One request as the caller means it; `what` names it in errors and logs."""

    method: str
    path: str
    operation: Operation
    priority: Priority
    retry: Retry = Retry.READ
    params: Mapping[str, str] | None = None
    body: Mapping[str, Any] | None = None
    host: Host = Host.TRADING
    patient: bool = False
    """Wait for the budget's token however long it takes (the retry deadline then bounds only the
    retries): for reads a caller asked for in bulk (bars, snapshots), which must be served later
    rather than refused. Others give up when the deadline passes before their token comes."""

    @property
    def what(self) -> str:
        """The request as a log names it: method and path."""
        return f"{self.method} {self.path}"


class AlpacaRestClient:
    """Alpaca's trading and market-data REST hosts behind one pooled httpx client.

    Args:
        client: The pooled client; its owner opens and closes it.
        settings: Hosts, keys, timeouts and the retry policy.
        budget: The trading host's request budget (one per key, shared by every caller).
        data_budget: The market-data host's budget: Alpaca limits that host apart, so a quote read
            never spends a token orders need (by default from `settings.data_rate_limit`).
        rng: Jitter source.
        sleep: How to wait between attempts (tests may speed it up).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: AlpacaSettings,
        *,
        budget: RequestBudget | None = None,
        data_budget: RequestBudget | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._settings = settings
        self.budget = budget or RequestBudget(settings.rate_limit)
        self.data_budget = data_budget or RequestBudget(settings.data_rate_limit)
        self._rng = rng or random.Random()  # noqa: S311  # jitter, not a secret
        self._sleep = sleep
        self._timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        self._headers = {**settings.auth_headers, "Accept": "application/json"}
        self.sent = 0
        """Requests that left (attempts, retries included)."""
        self.retried = 0
        self.throttled = 0
        """Answers that were 429 (the budget should keep this at zero)."""
        self.last_answer_at: float | None = None
        """When Alpaca last answered as a working API (a success, a refusal, a 404), for health."""
        self.last_failure: str | None = None

    async def call(self, request: Request) -> Any:
        """Send `request` and return its decoded JSON body (None for an empty answer).

        Raises:
            BrokerRejected, OrderNotFound, OrderNotCancelable: Alpaca refused it (see `errors.py`).
            Unanswered: It may have been carried out, and `Retry.ONCE` forbids asking again.
            BrokerError: Alpaca could not be reached within the retry bounds, or refused the keys.
        """
        policy = self._settings.retry
        backoff = Backoff(policy.base_delay, policy.max_delay, self._rng)
        deadline = time.monotonic() + policy.deadline
        attempt = 0
        while True:
            attempt += 1
            asked = time.monotonic()
            starved = await self._take_token(request, deadline)
            if request.patient:  # its wait for a token does not count against its retries
                deadline += time.monotonic() - asked
            error, again, wait = (starved, False, 0.0) if starved is not None else await self._attempt(request)
            if error is None:
                return again  # the decoded body
            delay = max(backoff.delay(attempt - 1), wait)
            if not again or attempt >= policy.max_attempts or time.monotonic() + delay >= deadline:
                self.last_failure = str(error)
                error.details["attempts"] = attempt  # a cancel refused after an unanswered try needs a look
                raise error
            log.info("%s failed (%s); attempt %d in %.2fs", request.what, error.message, attempt + 1, delay)
            self.retried += 1
            await self._sleep(delay)

    async def _take_token(self, request: Request, deadline: float) -> BrokerError | None:
        """Wait for the host's budget to grant a token (until the deadline unless `patient`); an error if none came."""
        budget = self.budget if request.host is Host.TRADING else self.data_budget
        try:
            async with asyncio.timeout(None if request.patient else max(0.0, deadline - time.monotonic())):
                await budget.acquire(request.priority)
        except TimeoutError:
            return BrokerError(f"{request.what}: the request budget had no token in time", retryable=True)
        return None

    async def _attempt(self, request: Request) -> tuple[TradingError | None, Any, float]:
        """One try, its token taken: (None, body, 0) on success, else (error, may-try-again, least wait)."""
        budget = self.budget if request.host is Host.TRADING else self.data_budget
        try:
            with budget.in_flight() as ticket:
                self.sent += 1
                response = await self._client.request(
                    request.method,
                    self._url(request),
                    params=request.params,
                    content=encode(request.body) if request.body is not None else None,
                    headers=self._headers_for(request),
                    timeout=self._timeout,
                )
                budget.observe(response.headers, ticket)
        except httpx.HTTPError as e:
            transport_error = from_transport(e, request.what)
            transport_error.__cause__ = e
            return transport_error, is_unsent(e) or request.retry is Retry.READ, 0.0
        if response.is_success:
            self.last_answer_at = time.monotonic()
            return self._body(request, response)
        answer = AlpacaAnswer(response.status_code, response.content)
        error = from_answer(answer, request.operation)
        if type(error) is not BrokerError and not isinstance(error, Unanswered):
            self.last_answer_at = time.monotonic()  # a refusal or a 404 is the API working
        if response.status_code == 429:
            self.throttled += 1
            retry_after = _seconds(response.headers.get("retry-after"))
            budget.penalise(retry_after)
            return error, True, retry_after or 0.0
        return error, isinstance(error, Unanswered) and request.retry is Retry.READ, 0.0

    def _body(self, request: Request, response: httpx.Response) -> tuple[TradingError | None, Any, float]:
        if not response.content:
            return None, None, 0.0
        try:
            return None, decode(response.content), 0.0
        except WireError as e:
            error = Unanswered(f"{request.what}: unreadable answer ({e})", status=response.status_code)
            error.__cause__ = e
            return error, request.retry is Retry.READ, 0.0

    def _url(self, request: Request) -> str:
        base = self._settings.base_url if request.host is Host.TRADING else self._settings.data_url
        return f"{base.rstrip('/')}{request.path}"

    def _headers_for(self, request: Request) -> dict[str, str]:
        if request.body is None:
            return self._headers
        return {**self._headers, "Content-Type": "application/json"}


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
