"""The Alpaca adapter's settings: hosts, keys, timeouts, retries, the request budgets, the streams."""

from __future__ import annotations

from datetime import timedelta

import attrs

PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, was {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be 0 or more, was {value!r}")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a failed request is tried again: exponential backoff with full jitter, bounded twice.

    Attributes:
        max_attempts: Attempts in all, the first included.
        base_delay: The first backoff ceiling in seconds; it doubles on every attempt.
        max_delay: The largest backoff ceiling in seconds; a wait is uniform in [0, ceiling].
        deadline: Seconds from the first attempt after which no new attempt starts.
    """

    max_attempts: int = 4
    base_delay: float = attrs.field(default=0.25, validator=_positive)
    max_delay: float = attrs.field(default=4.0, validator=_positive)
    deadline: float = attrs.field(default=20.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, was {self.max_attempts}")


@attrs.frozen(kw_only=True)
class RateLimit:
    """The account's request budget before the server's rate-limit headers say otherwise.

    Attributes:
        requests: Requests allowed per `period` (Alpaca: 200 a minute per key).
        period: Seconds over which `requests` are allowed.
        sync_reserve: The share of the allowance polls and syncs leave for orders and cancels.
        order_reserve: The share new orders leave for cancels and risk-reducing orders.
    """

    requests: int = 200
    period: float = attrs.field(default=60.0, validator=_positive)
    sync_reserve: float = 0.1
    order_reserve: float = 0.025

    def __attrs_post_init__(self) -> None:
        if self.requests < 1:
            raise ValueError(f"requests must be at least 1, was {self.requests}")
        if not 0 <= self.order_reserve <= self.sync_reserve < 1:
            raise ValueError("reserves must satisfy 0 <= order_reserve <= sync_reserve < 1")


@attrs.frozen(kw_only=True)
class StreamSettings:
    """The trade_updates stream: reconnection, the silence watchdog, the backfill.

    Attributes:
        reconnect_min_delay: The first reconnection backoff ceiling in seconds (jittered).
        reconnect_max_delay: The largest reconnection backoff ceiling in seconds.
        stable_after: A connection that lived this long resets the backoff.
        ready_stable_after: A connection that became ready (authenticated, listening, backfilled)
            and stayed so this long resets the backoff too: the server works and dropped us, so
            the next connection is not delayed for up to `reconnect_max_delay` while submissions
            wait for it. A server that drops each connection at once still backs off.
        open_timeout: Seconds for the handshake, `authenticate` and `listen` together.
        ping_interval: Seconds between keepalive pings (a missing pong closes the socket).
        ping_timeout: Seconds a ping waits for its pong.
        silence_window: After this many seconds without a message, the watchdog reads the
            orders the stream owes news of over REST (see `stream.py`).
        lag_tolerance: Seconds the stream has to deliver what REST already shows before it is
            declared silent and reconnected.
        backfill_margin: How far before the last message the backfill lists closed orders.
        ready_timeout: Seconds a submission waits for the stream to be connected and backfilled
            before it is refused (unsent) with a retryable `BrokerError`.
        gap_timeout: Seconds a fill that arrived ahead of earlier executions of its order waits
            for them before it is delivered across the gap (see `sequencer.py`).
    """

    reconnect_min_delay: float = attrs.field(default=0.5, validator=_positive)
    reconnect_max_delay: float = attrs.field(default=30.0, validator=_positive)
    stable_after: float = attrs.field(default=30.0, validator=_positive)
    ready_stable_after: float = attrs.field(default=2.0, validator=_positive)
    open_timeout: float = attrs.field(default=10.0, validator=_positive)
    ping_interval: float = attrs.field(default=10.0, validator=_positive)
    ping_timeout: float = attrs.field(default=20.0, validator=_positive)
    silence_window: float = attrs.field(default=10.0, validator=_positive)
    lag_tolerance: float = attrs.field(default=3.0, validator=_positive)
    backfill_margin: timedelta = timedelta(minutes=1)
    ready_timeout: float = attrs.field(default=10.0, validator=_positive)
    gap_timeout: float = attrs.field(default=2.0, validator=_positive)


@attrs.frozen(kw_only=True)
class AlpacaSettings:
    """Where Alpaca is and how the adapter talks to it.

    Attributes:
        key_id: The API key id (`APCA-API-KEY-ID`).
        secret_key: The API secret (`APCA-API-SECRET-KEY`); never shown in a repr.
        base_url: The trading API host, without `/v2`.
        data_url: The market data host, without `/v2`.
        stream_url: The trade_updates WebSocket URL; None derives `ws(s)://<base host>/stream`.
        data_stream_url: The market-data WebSocket URL; None derives it from `data_url` and `feed`
            (`wss://stream.data.alpaca.markets/v2/iex` for Alpaca's data host).
        feed: The market data feed asked for (`iex` is free, `sip` needs a subscription).
        quote_max_age: Seconds a quote the market-data stream no longer keeps current is still
            answered from the cache before `latest_quote` asks REST (see `quotes.py`).
        connect_timeout: Seconds to open a TCP connection.
        read_timeout: Seconds to wait for an answer.
        retry: Retries of reads, cancels, and refused (429) or unsent requests.
        lookup_window: Seconds a submission left unanswered (timeout, dropped connection) is
            looked up by its client order id before the adapter gives up knowing.
        rate_limit: The trading host's request budget's starting point.
        data_rate_limit: The market-data host's, which Alpaca limits apart (200 a minute on the free plan).
        stream: The trade_updates stream (its reconnection timings serve the market-data stream too).
    """

    key_id: str
    secret_key: str = attrs.field(repr=False)
    base_url: str = PAPER_URL
    data_url: str = DATA_URL
    stream_url: str | None = None
    data_stream_url: str | None = None
    feed: str | None = "iex"
    quote_max_age: float = attrs.field(default=5.0, validator=_non_negative)
    connect_timeout: float = attrs.field(default=5.0, validator=_positive)
    read_timeout: float = attrs.field(default=10.0, validator=_positive)
    retry: RetryPolicy = RetryPolicy()
    lookup_window: float = attrs.field(default=5.0, validator=_positive)
    rate_limit: RateLimit = RateLimit()
    data_rate_limit: RateLimit = RateLimit()
    stream: StreamSettings = StreamSettings()

    @property
    def trade_stream_url(self) -> str:
        """The trade_updates WebSocket's URL: the configured one, else the REST base's with `wss://` and `/stream`."""
        if self.stream_url is not None:
            return self.stream_url
        base = self.base_url.rstrip("/")
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/stream"

    @property
    def market_stream_url(self) -> str:
        """`data_stream_url`, or Alpaca's rule: `data.<domain>` streams at `stream.data.<domain>/v2/<feed>`."""
        if self.data_stream_url is not None:
            return self.data_stream_url
        scheme, _, rest = self.data_url.rstrip("/").partition("://")
        host, slash, path = rest.partition("/")
        if host.startswith("data.") and host.endswith("alpaca.markets"):
            host = f"stream.{host}"
        return f"{'wss' if scheme == 'https' else 'ws'}://{host}{slash}{path}/v2/{self.feed or 'iex'}"

    @property
    def auth_headers(self) -> dict[str, str]:
        """The key headers every request to Alpaca carries."""
        return {"APCA-API-KEY-ID": self.key_id, "APCA-API-SECRET-KEY": self.secret_key}
