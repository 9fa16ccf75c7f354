"""Where the adapter finds Alpaca's market-data stream."""

from __future__ import annotations

import pytest

from adapters.alpaca.config import AlpacaSettings


@pytest.mark.parametrize(
    ("data_url", "feed", "expected"),
    [
        ("https://data.alpaca.markets", "iex", "wss://stream.data.alpaca.markets/v2/iex"),
        ("https://data.alpaca.markets/", "sip", "wss://stream.data.alpaca.markets/v2/sip"),
        ("https://data.sandbox.alpaca.markets", "iex", "wss://stream.data.sandbox.alpaca.markets/v2/iex"),
        ("http://127.0.0.1:8765", None, "ws://127.0.0.1:8765/v2/iex"),
    ],
)
def test_the_market_data_stream_is_derived_from_the_data_host_and_feed(
    data_url: str, feed: str | None, expected: str
) -> None:
    settings = AlpacaSettings(key_id="k", secret_key="s", data_url=data_url, feed=feed)

    assert settings.market_stream_url == expected


def test_a_given_market_data_stream_url_is_used_as_given() -> None:
    settings = AlpacaSettings(key_id="k", secret_key="s", data_stream_url="ws://proxy:9000/feed")

    assert settings.market_stream_url == "ws://proxy:9000/feed"


def test_a_negative_quote_age_is_refused() -> None:
    with pytest.raises(ValueError, match="quote_max_age"):
        AlpacaSettings(key_id="k", secret_key="s", quote_max_age=-1)
