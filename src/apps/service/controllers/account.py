"""The broker account as the spec shows it."""

from __future__ import annotations

from litestar import Controller, get

from apps.service.controllers.docs import Engine, errors
from apps.service.convert import account_body
from apps.service.schemas import AccountBody


class AccountController(Controller):
    path = "/api/v1/account"
    tags = ["account"]  # noqa: RUF012  # Litestar's declared class attribute

    @get("/", responses=errors(502), summary="Get the account")
    async def get_account(self, engine: Engine) -> AccountBody:
        return account_body(await engine.get_account())
