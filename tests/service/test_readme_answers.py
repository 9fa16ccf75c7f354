"""The README's curl examples of a refusal answer what the README says they answer.

Found by a user tryout: the README never said that a strategy id must be a UUID, so the 400 a
`"strategyId": "momentum"` gets came as a surprise.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Any]

README = (pathlib.Path(__file__).parents[2] / "README.md").read_text()

_REFUSAL = re.compile(
    r"curl -s -X POST localhost:3001(?P<path>\S+) -H 'content-type: application/json' \\\n"
    r"\s+-d '(?P<body>[^']+)'\n# (?P<status>\d{3}) (?P<answer>\{.*\})\n"
)


def readme_refusals() -> list[tuple[str, dict[str, Any], int, dict[str, Any]]]:
    """Each curl POST the README follows with `# <status> <answer>`: (path, body, status, answer)."""
    return [
        (m["path"], json.loads(m["body"]), int(m["status"]), json.loads(m["answer"])) for m in _REFUSAL.finditer(README)
    ]


def test_the_readme_says_a_strategy_id_is_a_uuid_where_strategy_id_first_appears() -> None:
    first = README.index("strategyId")

    assert "is a UUID" in README[first : first + 400]
    assert any("strategyId" in body for _, body, _, _ in readme_refusals())


async def test_each_refusal_the_readme_shows_is_what_the_api_answers_and_nothing_is_stored(api: Client) -> None:
    refusals = readme_refusals()
    assert refusals  # the strategy id's, at least

    for path, body, status, answer in refusals:
        response = await api.post(path, json=body)

        assert (response.status_code, response.json()) == (status, answer)
    assert (await api.get("/api/v1/orders", params={"status": "all"})).json()["orders"] == []
