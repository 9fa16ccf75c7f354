"""The documentation page at `/schema`: Swagger UI served from the installed package, never a CDN.

The `swagger-ui-bundle-v2` wheel (pinned in the `service` extra) carries Swagger UI's files; they
are served at `/docs-assets/` and the page names only those, so it works with no internet (Litestar's
default pages load their script, unpinned, from a CDN, and were blank offline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

from apps.service.auth import PUBLIC

ASSETS: Final = "/docs-assets"


def swagger_ui_folder() -> Path:
    """Where the installed Swagger UI's files are."""
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


def render_plugin() -> SwaggerRenderPlugin:
    """Swagger UI, its script, styles and icon from `ASSETS` (served at `/schema` and `/schema/swagger`)."""
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )


def assets_router() -> Router:
    """The Swagger UI files, open without a token (they hold no data: the document itself needs one)."""
    return create_static_files_router(
        path=ASSETS, directories=[swagger_ui_folder()], opt={PUBLIC: True}, include_in_schema=False
    )
