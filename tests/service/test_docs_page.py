"""The documentation page works offline: Swagger UI from the installed package, pinned, nothing from a CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from apps.service.docs_page import swagger_ui_folder

Client = AsyncTestClient[Any]


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
async def test_the_page_loads_only_what_the_service_serves_itself(api: Client, path: str) -> None:
    page = await api.get(path)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert referenced  # the script, the styles, the icon
    assert [url for url in referenced if "://" in url or url.startswith("//")] == []
    for url in referenced:
        asset = await api.get(url)
        assert (url, asset.status_code) == (url, 200)
        assert len(asset.content) > 500


async def test_the_script_is_the_pinned_swagger_ui_from_the_package(api: Client) -> None:
    script = await api.get("/docs-assets/swagger-ui-bundle.js")

    assert script.content == (swagger_ui_folder() / "swagger-ui-bundle.js").read_bytes()
    assert swagger_ui_folder().name == "swagger-ui-5.31.0"  # OpenAPI 3.1 needs Swagger UI 5
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
