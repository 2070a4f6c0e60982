"""Property-based tests of the REST API from its own OpenAPI document (schemathesis over ASGI):
whatever schemathesis sends, valid or not, with a valid admin token, the server answers without
a 5xx, with the status codes, content types and bodies the document declares.

One test per operation and generation mode, from the app's route table. (schemathesis's lazy
``from_fixture`` loader does not run under pytest 9 — it reads ``Node._nodeid`` — so each test
draws cases from ``operation.as_strategy`` with hypothesis directly.) SQLite only: these find
bugs in the HTTP edge, not in the database (the other test_api_* modules run on both).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.http.app import create_app
from api.http.auth import Role, route_table
from api.settings import Settings
from devices.sim.cards import Media
from tests.integration.test_api_support import World, world_fixture

pytestmark = pytest.mark.filterwarnings("ignore")

# tus PATCH bodies (api/http/rest_uploads.py) are raw bytes, as application/octet-stream's
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = 20

# The operations, from an app that is built but never started (it opens nothing until then).
_APP = create_app(Settings(data_dir=Path("/nonexistent/liuhen")))
OPERATIONS = sorted((method, r.path) for r in route_table(_APP)
                    if r.kind == "api" and r.path.startswith("/api/") for method in r.methods)
_DOC = _APP.openapi()["paths"]
INPUTLESS = {(m, p) for m, p in OPERATIONS
             if not {"parameters", "requestBody", "security"} & set(_DOC[p][m.lower()])}
"""Operations with nothing to get wrong (the health check): no negative cases exist."""


@pytest.fixture(scope="module", params=["sqlite"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          media: Media) -> Iterator[World]:
    yield from world_fixture(request, tmp_path_factory, media, docked=False)


@pytest.fixture(scope="module")
def api_schema(world: World) -> OpenApiSchema:
    auth = world.auth(Role.OFFICER)
    world.client.post("/api/cases", headers=auth, json={"case_id": "S-1", "title": "t"})
    world.client.post("/api/cases/S-1/steps", headers=auth, json={"code": "chafeng"})
    world.station.ledger.publish()
    loaded: OpenApiSchema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    return loaded


def test_every_operation_is_in_the_document(api_schema: OpenApiSchema) -> None:
    results = list(api_schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), [r.err() for r in results if isinstance(r, Err)]
    assert {(op.method.upper(), op.path) for op in operations} == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), [
    (m, p, mode) for m, p in OPERATIONS for mode in GenerationMode
    if not (mode is GenerationMode.NEGATIVE and (m, p) in INPUTLESS)])
def test_no_server_errors(api_schema: OpenApiSchema, world: World, method: str, path: str,
                          mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    headers = world.auth(Role.ADMIN)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case[Any]) -> None:  # as_strategy yields a bare Case
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
