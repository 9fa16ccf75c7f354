"""Bearer-token access: every endpoint but the public ones requires `Authorization: Bearer <token>`."""

from __future__ import annotations

import hmac
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

PUBLIC: Final = "public"
"""Route handler `opt` flag of the endpoints open without a token (`/health`, `/metrics`)."""


class BearerTokenGuard:
    """A Litestar guard comparing the presented token with the configured one in constant time."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get(PUBLIC):
            return
        scheme, _, presented = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), self._expected):
            raise NotAuthorizedException("a valid bearer token is required (Authorization: Bearer <token>)")
