"""Issue 23.7: one JSON size and depth limit for every emulator endpoint.

Every body the emulator parses goes through `limits.parse_json`: the API routes (stacks, jobs,
Monitoring queries: `messages.Request.json`), `POST /_emulator/faults` and `POST
/_emulator/metrics` (which used `json.loads` directly: 10,000 nested brackets gave a 500 and a
RecursionError in its log, and it skipped the browser rule of the other admin endpoints). The
static test keeps it that way; the live ones send each bad class to both admin endpoints of a
real emulator server, and the nearest accepted body beside it.
"""

from __future__ import annotations

import ast
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from generator.emulator.limits import MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_CHARS, LimitError, parse_json
from generator.emulator.messages import Request
from generator.emulator.records import ApiError

EMULATOR = Path(__file__).resolve().parents[2] / "generator" / "emulator"
# json.loads on what is not a request body: the emulator's own state file, its job program's
# output, and the terraform.tfstate its own APPLY jobs wrote (applied.py).
OWN_FILES = {"store.py", "tfjobs.py", "applied.py"}

BAD = {
    "deep-list": b"[" * 10_000 + b"]" * 10_000,
    "deep-object": b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
    "huge-int": b'{"instances": [], "n": ' + b"9" * 100_000 + b"}",
    "huge-float": b'{"n": 1e999}',
    "nan": b'{"n": NaN}',
    "utf16": json.dumps({"instances": []}).encode("utf-16"),
    "latin1": '{"a": "é"}'.encode("latin-1"),
}
# The nearest accepted body for each class.
GOOD = {
    "deep-list": b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
    "deep-object": b'{"a":' * MAX_JSON_DEPTH + b"1" + b"}" * MAX_JSON_DEPTH,
    "huge-int": b'{"n": ' + b"9" * MAX_NUMBER_CHARS + b"}",
    "huge-float": b'{"n": 1e300}',
    "nan": b'{"n": 1.5}',
    "utf16": json.dumps({"instances": []}).encode("utf-8"),
    "latin1": '{"a": "é"}'.encode(),
}


def test_every_endpoint_parses_through_the_one_limit() -> None:
    """No json.loads/json.load on a request body anywhere in the emulator but `limits.parse_json`."""
    offenders = []
    for path in sorted(EMULATOR.glob("*.py")):
        if path.name in OWN_FILES | {"limits.py"}:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "json" and node.attr in ("loads", "load"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_static_check_can_fail(tmp_path: Path) -> None:
    tree = ast.parse("import json\njson.loads(body)\n")
    assert any(isinstance(n, ast.Attribute) and n.attr == "loads" for n in ast.walk(tree))


@pytest.mark.parametrize("case", sorted(BAD))
def test_request_json_refuses_each_class_and_accepts_the_nearest(case: str) -> None:
    """The API routes' `Request.json`: a 400 CannotParseRequest, never a traceback."""
    request = Request("POST", "/x", "/x", {}, {}, BAD[case], {})
    with pytest.raises(ApiError) as info:
        request.json()
    assert info.value.status == 400 and "\n" not in info.value.message
    assert Request("POST", "/x", "/x", {}, {}, GOOD[case], {}).json() is not None


def test_size_limit() -> None:
    with pytest.raises(LimitError, match="at most"):
        parse_json(b" " * (MAX_JSON_BYTES + 1))
    assert parse_json(b" " * (MAX_JSON_BYTES - 2) + b"{}") == {}


def _post(url: str, path: str, body: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(url + path, data=body, method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("path", ["/_emulator/metrics", "/_emulator/faults"])
def test_admin_endpoints_answer_400_for_each_class(rm_emulator, path: str, case: str) -> None:
    status, data = _post(rm_emulator.url, path, BAD[case])
    assert status == 400 and data["code"] == "InvalidParameter" and "\n" not in data["message"], data
    # The server still answers afterwards (no worker died).
    assert _post(rm_emulator.url, "/_emulator/metrics", b'{"instances": []}')[0] == 200


@pytest.mark.slow
def test_metrics_admin_keeps_the_browser_rule(rm_emulator) -> None:
    req = urllib.request.Request(rm_emulator.url + "/_emulator/metrics", data=b'{"instances": []}', method="POST",
                                 headers={"content-type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 403
