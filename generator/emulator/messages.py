"""Requests and responses as the emulator's handlers see them, and the JSON they answer with.

>>> error_response(404, "NotAuthorizedOrNotFound", "no such stack").body
b'{"code":"NotAuthorizedOrNotFound","message":"no such stack"}'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .auth import Principal
from .limits import parse_json
from .records import ApiError

NOT_AUTHENTICATED = "The required information to complete authentication was not provided or was incorrect."


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":")).encode("utf-8"), headers=headers or {})


def error_response(status: int, code: str, message: str) -> Response:
    return json_response(status, {"code": code, "message": message})


@dataclass
class Request:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body: bytes
    params: dict[str, str]
    principal: Principal | None = None

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        try:
            return parse_json(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, "CannotParseRequest", f"the body is not valid JSON ({exc})") from exc
