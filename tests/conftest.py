"""Shared test set-up: real servers are found by the fixture plugins below."""

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.nats", "tests.fixtures.alpaca_sim"]
