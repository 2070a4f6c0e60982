"""One table maps the error families to HTTP status, error code and exit code (issue 12): both
edges answer from it, and the documents list what it says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.requests import Request

from api.cli._common import fail
from api.errors import FAMILIES, HEADINGS, UNKNOWN
from api.http.errors import liuhen_error
from evidence.errors import LiuhenError, UnavailableError, VerificationError

ROOT = Path(__file__).resolve().parents[2]


def _instance(family: type[LiuhenError]) -> LiuhenError:
    if issubclass(family, VerificationError):
        return family("x", step="s")
    if issubclass(family, UnavailableError):
        return family("x", retry_after_s=1.0)
    return family("x")


def test_the_cli_and_http_answer_every_family_from_the_one_table() -> None:
    for family, status, code, exit_code in FAMILIES:
        exc = _instance(family)
        response = liuhen_error(Request({"type": "http", "headers": []}), exc)
        assert (response.status_code, json.loads(bytes(response.body))["error"]) == (status, code)
        assert fail(exc).exit_code == exit_code, family


def test_readme_lists_the_exit_codes_of_the_table() -> None:
    line = re.search(r"Exit codes: (.*?)\n\n", (ROOT / "README.md").read_text(), re.S)
    assert line is not None
    listed = {int(n) for n in re.findall(r"(?:^|, )(\d+) ", line.group(1))}
    assert listed == {0} | {exit_code for *_, exit_code in FAMILIES}


def test_docs_api_lists_the_status_and_code_of_every_family() -> None:
    rows = set(re.findall(r"^\| (\d{3}) \| `(\w+)` \|", (ROOT / "docs/api.md").read_text(),
                          re.M))
    assert {(str(status), code) for _, status, code, _ in FAMILIES} <= rows


def test_every_error_code_has_a_chinese_page_heading() -> None:
    codes = {code for _, _, code, _ in FAMILIES} | {UNKNOWN[1]}
    assert set(HEADINGS) == codes
    assert all(re.match(r"[\u3400-\u9fff]", HEADINGS[c]) for c in codes)
