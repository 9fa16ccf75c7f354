# The two commands a new machine needs: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3001
export PORT
# ruff without its cache, so that a developer sees exactly what CI sees
export RUFF_NO_CACHE := true

.PHONY: run test lint unit bench clean prometheus chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/trading-engine serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint prometheus chromium
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# A real Prometheus scrapes /metrics in tests/service/test_metrics_format.py: Debian's package, installed
# where this runs as root with apt (CI); elsewhere that one test is skipped and the official parser's stands.
prometheus:
	@command -v prometheus >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends prometheus; } >/dev/null; } \
		|| echo "prometheus is not installed: the real-Prometheus scrape test will be skipped"

# The console page (GET /) is tested in a real headless browser: Debian's chromium, driven by Playwright
# (tests/browser). Installed where this runs as root with apt (CI); elsewhere those tests are skipped.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium; } >/dev/null; } \
		|| echo "chromium is not installed: the console's browser tests will be skipped"

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

# every benchmark; benchmarks/_*.py are their shared parts, not benchmarks
bench: $(STAMP)
	@for b in benchmarks/[!_]*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
