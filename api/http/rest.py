"""The REST API under ``/api`` (docs/api.md): one router made of the cases, clips and
verification routers. Every route names the roles it admits (api/http/auth.py)."""

from __future__ import annotations

from fastapi import APIRouter

from api.http import (
    rest_access,
    rest_approvals,
    rest_cases,
    rest_clips,
    rest_ledger,
    rest_stations,
    rest_uploads,
)


def api_router() -> APIRouter:
    router = APIRouter()
    router.include_router(rest_access.router)
    router.include_router(rest_ledger.router)
    router.include_router(rest_cases.router)
    router.include_router(rest_clips.router)
    router.include_router(rest_stations.router)
    router.include_router(rest_approvals.router)
    router.include_router(rest_uploads.router)
    return router
