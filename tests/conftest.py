"""Shared test set-up: real servers are found by the fixture plugins below."""

from hypothesis import settings

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.nats", "tests.fixtures.alpaca_sim"]

# No wall-clock deadline per example: on a loaded 2-core machine (CI runs two workers beside the
# servers) an example's time says what the machine is doing, not whether the property holds, and
# speed is measured in benchmarks/, never in timed tests.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
