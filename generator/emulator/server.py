"""The emulator's HTTP side: OCI Resource Manager REST API 20180917 for stacks and jobs.

Standard library only (`httpd`: ``http.server.ThreadingHTTPServer``).  Each request is
read whole, counted for ``/_emulator/stats``, checked for an OCI signature (401
``NotAuthenticated`` otherwise), possibly answered by an injected 429/500, then routed
(`routes`).  Responses carry ``opc-request-id``; stacks and jobs carry ``etag``; lists page
with ``limit``/``page`` and the ``opc-next-page`` header; errors are ``{"code", "message"}``.

Admin endpoints (unsigned, loopback clients only, no browser cross-origin requests: `limits`; `admin`): ``GET|POST /_emulator/faults``,
``GET|DELETE /_emulator/stats``, ``GET /_emulator/health``.

`EmulatorServer.handle` is where every request comes in; `EmulatorServer._api` checks and
routes an API request, `EmulatorServer._admin` answers an admin one.

>>> server = build_emulator(state_file="/tmp/rm-state.json", public_keys=["key.pem"]).start()  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .admin import ADMIN_PREFIX, handle_admin
from .auth import AuthError, KeyRing, verify_request
from .errors import EmulatorError
from .faults import FaultSpec
from .httpd import MAX_BODY_BYTES, make_http_server
from .limits import admin_request_problem
from .messages import NOT_AUTHENTICATED, Request, Response, error_response, json_response
from .records import ApiError
from .routes import API_PREFIX, ROUTES, Api, match_route, paginate, sort_records
from .state import EmulatorState

# The names this module has always offered (other emulator modules and branches use them).
__all__ = [
    "API_PREFIX", "MAX_BODY_BYTES", "NOT_AUTHENTICATED", "ROUTES", "Api", "EmulatorServer", "Request", "Response",
    "build_emulator", "error_response", "json_response", "match_route", "paginate", "sort_records", "stderr_log",
]


class EmulatorServer:
    """The whole emulator: state, keys, HTTP server and the clock that moves jobs on."""

    def __init__(
        self,
        state: EmulatorState,
        keys: KeyRing,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
        tick_seconds: float = 0.1,
    ) -> None:
        self.state = state
        self.keys = keys
        self.api = Api(state)
        self.log = log
        self.tick_seconds = tick_seconds
        self._stats: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.httpd = make_http_server(self, host, port)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.httpd.server_address[0])
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def _tick(self) -> None:
        # Jobs move on even when nobody asks, so the state file shows them finishing.
        while not self._stop.wait(self.tick_seconds):
            try:
                self.state.advance()
            except Exception:  # keep ticking: one bad write must not freeze every job
                self._write_log("tick failed:\n" + traceback.format_exc())

    def start(self) -> EmulatorServer:
        """Serve in background threads (for embedding); `stop` ends them."""
        for target in (self.httpd.serve_forever, self._tick):
            thread = threading.Thread(target=target, daemon=True, name=f"emulator-{target.__name__}")
            thread.start()
            self._threads.append(thread)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `stop` is called from another (or Ctrl-C)."""
        ticker = threading.Thread(target=self._tick, daemon=True, name="emulator-tick")
        ticker.start()
        self._threads.append(ticker)
        try:
            self.httpd.serve_forever()
        finally:
            self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=2)

    # --- stats ---

    def count(self, key: str, status: int) -> None:
        with self._stats_lock:
            self._stats[key] += 1
            self._statuses[str(status)] += 1

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {
                "total": sum(self._stats.values()),
                "requests": dict(sorted(self._stats.items())),
                "statuses": dict(sorted(self._statuses.items())),
            }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._stats.clear()
            self._statuses.clear()

    def _write_log(self, line: str) -> None:
        if self.log:
            self.log(line)

    # --- request handling ---

    def handle(self, method: str, target: str, headers: Any, body: bytes, client: str) -> Response:
        """Answer one request, whole (called by `httpd` for every request)."""
        split = urlsplit(target)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        if path.startswith(ADMIN_PREFIX):
            problem = admin_request_problem(method, headers)
            if problem:
                return error_response(403, "NotAllowed", f"the admin endpoints refuse {problem}")
            return self._admin(method, path, body, client)

        template, handler, params = match_route(method, path)
        stats_key = f"{method} {template or path if path.startswith(API_PREFIX) else '(not the API)'}"
        request = Request(method, target, path, query, headers, body, params)
        response = self._api(request, template, handler)
        self.count(stats_key, response.status)
        return response

    def _api(self, request: Request, template: str | None, handler: str | None) -> Response:
        """A signed API request: signature, then injected faults, then its handler."""
        refused = self._authenticate(request) or self._injected_fault(request)
        if refused is not None:
            return refused
        return self._dispatch(request, template, handler)

    def _authenticate(self, request: Request) -> Response | None:
        """Set ``request.principal`` from its OCI signature, or the 401 answer."""
        try:
            request.principal = verify_request(self.keys, request.method, request.target, request.headers, request.body)
        except AuthError as exc:
            return error_response(401, "NotAuthenticated", f"{NOT_AUTHENTICATED} ({exc.detail})")
        return None

    def _injected_fault(self, request: Request) -> Response | None:
        """The 429 or 500 a ``status_429``/``status_500`` fault answers this request with."""
        status = self.state.faults.take_http_fault(request.method, request.path)
        if status is None:
            return None
        self.state.save()  # the fault's count went down: that is state too
        if status == 429:
            return error_response(429, "TooManyRequests", "Too many requests for the tenancy (injected by the emulator)")
        return error_response(500, "InternalServerError", "Internal server error (injected by the emulator)")

    def _dispatch(self, request: Request, template: str | None, handler: str | None) -> Response:
        if handler is None:
            if template is not None:
                return error_response(405, "MethodNotAllowed", f"{request.method} is not allowed on {template}")
            return error_response(
                404, "NotAuthorizedOrNotFound",
                f"the emulator does not implement {request.method} {request.path}",
            )
        try:
            answer: Callable[[Request], Response] = getattr(self.api, handler)
            return answer(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)

    def _admin(self, method: str, path: str, body: bytes, client: str) -> Response:
        """A request under ``/_emulator/`` (`admin.handle_admin`)."""
        return handle_admin(self, method, path, body, client)


def stderr_log(line: str) -> None:
    """A log sink for the CLI: one line per request on stderr."""
    print(line, file=sys.stderr, flush=True)


def build_emulator(
    *,
    state_file: str,
    public_keys: list[str],
    host: str = "127.0.0.1",
    port: int = 0,
    job_seconds: float = 3.0,
    faults_file: str | None = None,
    log: Callable[[str], None] | None = stderr_log,
) -> EmulatorServer:
    """Everything `flowstack emulator` needs, from its options; raises `EmulatorError`."""
    keys = KeyRing.from_sources(public_keys)
    if not len(keys):
        raise EmulatorError("the emulator needs at least one --public-key to verify requests against")
    faults = FaultSpec.from_file(faults_file) if faults_file else None
    state = EmulatorState(state_file, faults=faults, job_seconds=job_seconds)
    return EmulatorServer(state, keys, host=host, port=port, log=log)
