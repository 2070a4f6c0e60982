"""The FastAPI application: REST under ``/api`` (docs/api.md), OpenAPI at ``/openapi.json``,
and the server-rendered pages.

``create_app(settings)`` builds nothing at import time and opens the ledger and object store
when the server starts (or takes an opened ``Services``, for tests and embedding). While it
runs, a thread publishes a checkpoint at most once per ``publish_interval_s`` while entries are
pending (DESIGN.md §4), as the station daemon does: API writes (links, accesses) are covered by
a signed checkpoint within a second.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from api.compose import Services, open_services
from api.http import errors, pages, web
from api.http.auth import unguarded_routes
from api.http.gate import GateConfig, RequestGate, host_name
from api.http.rest import api_router
from api.http.rest_ledger import VERIFY_UPLOAD_PATH
from api.http.rest_stations import OBJECT_PATH, PUSH_PATH
from api.http.rest_uploads import UPLOAD_PATH
from api.settings import Settings
from ledger.publishing import Publisher

log = logging.getLogger("liuhen.api")


@dataclass(frozen=True, slots=True)
class HttpConfig:
    max_request_bytes: int = 1 << 20
    """1 MiB: requests are small JSON documents and forms; bound DoS."""
    max_upload_bytes: int = 16 << 30
    """Verify-by-upload streams a whole clip, hashing as it reads and keeping nothing: an hour
    of 1080p body-cam footage is ~4 GiB."""
    max_anonymous_bytes: int = 16 << 10
    """Public routes take the sign-in form (a token) from callers not known yet."""
    bind_host: str | None = None
    """The address the server listens on; a loopback one (tests, the demo) also admits the
    ``Host`` names localhost, 127.0.0.1 and [::1]."""
    publish_interval_s: float | None = 1.0
    """Checkpoints while entries are pending; None: none from this process."""
    catalogue_refresh_s: float = 0.5
    """Reads see entries written by other processes (stations) within this long."""


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return address == "localhost"


def _hosts(settings: Settings, bind_host: str | None) -> frozenset[str]:
    names = {host_name(h) for h in settings.host_names()}
    if bind_host is not None and _is_loopback(bind_host):
        names |= LOOPBACK_NAMES
    return frozenset(names)


def _attach(app: FastAPI, casework: Services) -> None:
    app.state.casework = casework
    app.state.login = casework.login


def create_app(settings: Settings, *, casework: Services | None = None,
               config: HttpConfig | None = None) -> FastAPI:
    """The app for ``settings``. With ``casework`` given, the caller owns (and closes) it."""
    config = config or HttpConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = casework is None
        opened = casework or open_services(settings, refresh_s=config.catalogue_refresh_s)
        _attach(app, opened)
        publisher = (None if config.publish_interval_s is None
                     else Publisher(lambda: opened.ledger.publish(actor="api"),
                                    interval_s=config.publish_interval_s,
                                    name="liuhen-api-checkpoints"))
        try:
            yield
        finally:
            if publisher is not None:
                publisher.stop()
            if owned:
                opened.close()

    app = FastAPI(title="liuhen 留痕", version="1", lifespan=lifespan,
                  description="Evidence from body-worn recorders: cases, access supervision "
                  "(调阅监督), verification. See docs/api.md.",
                  openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    app.add_middleware(RequestGate, config=GateConfig(
        hosts=_hosts(settings, config.bind_host), max_request_bytes=config.max_request_bytes,
        max_upload_bytes=config.max_upload_bytes,
        max_anonymous_bytes=config.max_anonymous_bytes,
        upload_routes=frozenset({("POST", VERIFY_UPLOAD_PATH),
                                 ("POST", web.VERIFY_UPLOAD_PATH),
                                 ("POST", PUSH_PATH), ("PUT", OBJECT_PATH),
                                 ("PATCH", UPLOAD_PATH)})))
    if casework is not None:
        _attach(app, casework)
    errors.install(app)
    app.include_router(api_router())
    app.include_router(pages.router)  # the server-rendered pages under /ui
    app.include_router(pages.front_door)  # GET / → /ui/
    bad = unguarded_routes(app)
    if bad:
        raise RuntimeError(f"routes without a role guard (deny by default): {', '.join(bad)}")
    return app
