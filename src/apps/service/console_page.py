"""The operator's console at `/`: one HTML page, with its own script and styles from the package.

No build step and nothing from the internet: `apps/service/console/` holds the page, a plain
script and a stylesheet, served at `/` and `/console-assets/`. They are open without a token, as
they hold no data; every call the script makes sends the API's bearer token (pasted once, kept in
the browser's sessionStorage, never put in a URL).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

from litestar import Response, Router, get
from litestar.static_files import create_static_files_router

from apps.service.auth import PUBLIC

ASSETS: Final = "/console-assets"


def console_folder() -> Path:
    """Where the installed console's files are."""
    return Path(str(files("apps.service") / "console"))


@get("/", opt={PUBLIC: True}, include_in_schema=False, media_type="text/html")
async def console() -> Response[bytes]:
    """The page; its data comes from the API, with the token."""
    page = (console_folder() / "index.html").read_bytes()
    # The page names only its own assets: a script from elsewhere may not run on it.
    policy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    return Response(
        page, media_type="text/html", headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"}
    )


def console_router() -> Router:
    """`GET /` and the console's assets, open without a token."""
    assets = create_static_files_router(
        path=ASSETS, directories=[console_folder()], opt={PUBLIC: True}, include_in_schema=False
    )
    return Router(path="/", route_handlers=[console, assets])
