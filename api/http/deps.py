"""Request-scoped access to the services ``create_app`` holds (for REST and page routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.compose import Services
from evidence.errors import UnavailableError


def get_casework(request: Request) -> Services:
    casework: Services | None = getattr(request.app.state, "casework", None)
    if casework is None:
        raise UnavailableError("the server is starting: the ledger is not open yet",
                               retry_after_s=1.0)
    return casework


CaseworkDep = Annotated[Services, Depends(get_casework)]
