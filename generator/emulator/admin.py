"""The emulator's admin endpoints: unsigned, and for loopback clients only.

``GET /_emulator/health`` (the key fingerprints it verifies against), ``GET|DELETE
/_emulator/stats`` (request counts), ``GET|POST /_emulator/faults`` (the faults spec, see
`faults`).  `handle_admin` is their one entry point; `is_loopback` decides who may call.

>>> is_loopback("127.0.0.1"), is_loopback("192.0.2.1")
(True, False)
"""

from __future__ import annotations

from typing import Any, Protocol

from .auth import KeyRing
from .limits import is_loopback, parse_json
from .messages import Response, error_response, json_response
from .records import ApiError
from .state import EmulatorState

ADMIN_PREFIX = "/_emulator/"


class AdminHost(Protocol):
    """What the admin endpoints read and change (an `server.EmulatorServer`)."""

    keys: KeyRing
    state: EmulatorState

    def stats(self) -> dict[str, Any]: ...

    def reset_stats(self) -> None: ...


def handle_admin(host: AdminHost, method: str, path: str, body: bytes, client: str) -> Response:
    """Answer one request under ``/_emulator/``."""
    if not is_loopback(client):
        return error_response(403, "NotAllowed", "the emulator's admin endpoints answer loopback clients only")
    if path == "/_emulator/health" and method == "GET":
        return json_response(200, {"ok": True, "fingerprints": host.keys.fingerprints})
    if path == "/_emulator/stats":
        if method == "GET":
            return json_response(200, host.stats())
        if method == "DELETE":
            host.reset_stats()
            return Response(204)
    if path == "/_emulator/faults" and method in ("GET", "POST"):
        return _faults(host, method, body)
    return error_response(404, "NotAuthorizedOrNotFound", f"no admin endpoint {method} {path}")


def _faults(host: AdminHost, method: str, body: bytes) -> Response:
    if method == "GET":
        return json_response(200, host.state.faults.to_dict())
    try:
        spec = parse_json(body, "{}")
        return json_response(200, host.state.set_faults(spec, source="POST /_emulator/faults"))
    except (UnicodeDecodeError, ValueError) as exc:
        # FaultsError is a ValueError too: its message names the bad field.
        return error_response(400, "InvalidParameter", str(exc))
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
