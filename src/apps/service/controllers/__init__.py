"""One Litestar controller per resource: body -> domain call -> body. Errors are raised, never built here."""

from apps.service.controllers.account import AccountController
from apps.service.controllers.operations import OperationsController
from apps.service.controllers.orders import OrdersController
from apps.service.controllers.positions import PositionsController
from apps.service.controllers.risk import RiskController

__all__ = ["AccountController", "OperationsController", "OrdersController", "PositionsController", "RiskController"]
