"""The documentation stays true: the configuration table, the error codes and the README's requests."""

from __future__ import annotations

import re
from pathlib import Path

from apps.cli import reference_table
from apps.service.errors import STATUS_BY_CODE

ROOT = Path(__file__).parents[2]


def test_the_configuration_page_lists_every_key_as_the_code_defines_it() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()

    assert reference_table() in page


def test_the_api_page_lists_every_error_code_with_its_status() -> None:
    page = (ROOT / "docs" / "api.md").read_text()
    listed = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", page, flags=re.MULTILINE))

    assert listed == {code: str(status) for code, status in STATUS_BY_CODE.items()}


def test_the_readme_curl_lines_name_real_endpoints() -> None:
    readme = (ROOT / "README.md").read_text()

    paths = re.findall(r"curl .*?localhost:3001(/api/v1/[A-Za-z/]+)", readme)
    assert paths == ["/api/v1/orders", "/api/v1/orders/", "/api/v1/positions/AAPL", "/api/v1/orders", "/api/v1/orders"]


def test_the_simulator_page_names_nothing_it_serves_as_not_served() -> None:
    page = (ROOT / "docs" / "alpaca-sim.md").read_text()
    served = re.findall(r"^\| `(?:GET|POST|PATCH|DELETE) (/v2/[^`?]+)", page, flags=re.MULTILINE)
    found = re.search(r"Not served: (.*?)\.", page, flags=re.DOTALL)
    assert found is not None
    not_served = found.group(1)

    for word in ("bars", "snapshots", "calendar", "clock", "assets", "positions"):
        if any(word in path for path in served):
            assert word not in not_served, f"{word} is served, yet listed as not served"
