"""The emulator's HTTP side: OCI Resource Manager REST API 20180917 for stacks and jobs.

Standard library only (``http.server.ThreadingHTTPServer``).  Each request is read whole,
counted for ``/_emulator/stats``, checked for an OCI signature (401 ``NotAuthenticated``
otherwise), possibly answered by an injected 429/500, then routed.  Responses carry
``opc-request-id``; stacks and jobs carry ``etag``; lists page with ``limit``/``page`` and
the ``opc-next-page`` header; errors are ``{"code", "message"}``.  Field names are the
camelCase names of the SDK's ``oci.resource_manager.models``, which silently drops any
field it does not know.

Admin endpoints (unsigned, loopback clients only, no browser cross-origin requests: see limits): ``GET|POST /_emulator/faults``,
``GET|DELETE /_emulator/stats``, ``GET /_emulator/health``.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .auth import AuthError, KeyRing, Principal, verify_request
from .errors import EmulatorError
from .faults import FaultSpec
from .limits import admin_request_problem, is_loopback, parse_json
from .state import (
    JOB_SUMMARY_FIELDS,
    STACK_SUMMARY_FIELDS,
    ApiError,
    EmulatorState,
    etag_of,
    parse_time_us,
    public_view,
)

API_PREFIX = "/20180917"
MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
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


# (method, path template under /20180917, handler method name)
ROUTES: list[tuple[str, str, str]] = [
    ("POST", "/stacks", "create_stack"),
    ("GET", "/stacks", "list_stacks"),
    ("GET", "/stacks/{stackId}", "get_stack"),
    ("PUT", "/stacks/{stackId}", "update_stack"),
    ("DELETE", "/stacks/{stackId}", "delete_stack"),
    ("GET", "/stacks/{stackId}/tfConfig", "get_stack_tf_config"),
    ("POST", "/jobs", "create_job"),
    ("GET", "/jobs", "list_jobs"),
    ("GET", "/jobs/{jobId}", "get_job"),
    ("DELETE", "/jobs/{jobId}", "cancel_job"),
    ("GET", "/jobs/{jobId}/logs", "get_job_logs"),
    ("GET", "/jobs/{jobId}/logs/content", "get_job_logs_content"),
    ("GET", "/jobs/{jobId}/outputs", "list_job_outputs"),
    ("GET", "/jobs/{jobId}/tfConfig", "get_job_tf_config"),
]


def _compile(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", API_PREFIX + template) + "$")


_COMPILED = [(method, _compile(template), API_PREFIX + template, handler) for method, template, handler in ROUTES]


def match_route(method: str, path: str) -> tuple[str | None, str | None, dict[str, str]]:
    """(template, handler name, path params); handler None when only the method is wrong."""
    template_hit = None
    for route_method, pattern, template, handler in _COMPILED:
        match = pattern.match(path)
        if not match:
            continue
        if route_method == method:
            return template, handler, {k: unquote(v) for k, v in match.groupdict().items()}
        template_hit = template
    return template_hit, None, {}


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.arg(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, "InvalidParameter", f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ApiError(400, "InvalidParameter", f"{name} must be between {low} and {high}, got {value}")
    return value


def paginate(items: list[Any], request: Request) -> tuple[list[Any], dict[str, str]]:
    """One page of ``items`` and the ``opc-next-page`` header when more follow."""
    limit = _int_arg(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    page = request.arg("page")
    start = 0
    if page:
        try:
            start = int(page)
            if start < 0:
                raise ValueError(page)
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", f"page {page!r} is not a token this server returned") from exc
    chunk = items[start : start + limit]
    headers = {"opc-next-page": str(start + limit)} if start + limit < len(items) else {}
    return chunk, headers


def sort_records(records: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    sort_by = (request.arg("sortBy") or "TIMECREATED").upper()
    if sort_by not in ("TIMECREATED", "DISPLAYNAME"):
        raise ApiError(400, "InvalidParameter", f"sortBy must be TIMECREATED or DISPLAYNAME, got {sort_by!r}")
    # The API's defaults: newest first by time, A-Z by name.
    order = (request.arg("sortOrder") or ("DESC" if sort_by == "TIMECREATED" else "ASC")).upper()
    if order not in ("ASC", "DESC"):
        raise ApiError(400, "InvalidParameter", f"sortOrder must be ASC or DESC, got {order!r}")
    indexed = list(enumerate(records))
    key: Callable[[tuple[int, dict[str, Any]]], Any]
    if sort_by == "TIMECREATED":
        key = lambda pair: (pair[1]["timeCreated"], pair[0])  # noqa: E731
    else:
        key = lambda pair: (pair[1]["displayName"].lower(), pair[0])  # noqa: E731
    return [record for _, record in sorted(indexed, key=key, reverse=order == "DESC")]


class Api:
    """The endpoint handlers, over an `EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    # --- stacks ---

    def create_stack(self, request: Request) -> Response:
        stack = self.state.create_stack(request.json(), request.principal, request.headers.get("opc-retry-token"))
        return self._record(stack)

    def list_stacks(self, request: Request) -> Response:
        stacks = self.state.list_stacks(
            compartment_id=request.arg("compartmentId"), stack_id=request.arg("id"),
            lifecycle_state=request.arg("lifecycleState"), display_name=request.arg("displayName"),
        )
        page, headers = paginate(sort_records(stacks, request), request)
        return json_response(200, [public_view(s, STACK_SUMMARY_FIELDS) for s in page], headers)

    def get_stack(self, request: Request) -> Response:
        return self._record(self.state.get_stack(request.params["stackId"]))

    def update_stack(self, request: Request) -> Response:
        stack = self.state.update_stack(request.params["stackId"], request.json(), request.headers.get("if-match"))
        return self._record(stack)

    def delete_stack(self, request: Request) -> Response:
        self.state.delete_stack(request.params["stackId"], request.headers.get("if-match"))
        return Response(204)

    def get_stack_tf_config(self, request: Request) -> Response:
        return Response(200, self.state.stack_zip(request.params["stackId"]), "application/zip")

    # --- jobs ---

    def create_job(self, request: Request) -> Response:
        job = self.state.create_job(request.json(), request.principal, request.headers.get("opc-retry-token"))
        return self._record(job)

    def list_jobs(self, request: Request) -> Response:
        jobs = self.state.list_jobs(
            compartment_id=request.arg("compartmentId"), stack_id=request.arg("stackId"),
            job_id=request.arg("id"), lifecycle_state=request.arg("lifecycleState"),
            display_name=request.arg("displayName"),
        )
        page, headers = paginate(sort_records(jobs, request), request)
        return json_response(200, [public_view(j, JOB_SUMMARY_FIELDS) for j in page], headers)

    def get_job(self, request: Request) -> Response:
        return self._record(self.state.get_job(request.params["jobId"]))

    def cancel_job(self, request: Request) -> Response:
        forced = (request.arg("isForced") or "false").lower() == "true"
        self.state.cancel_job(request.params["jobId"], request.headers.get("if-match"), forced)
        return Response(204)

    def _filtered_logs(self, request: Request) -> list[dict[str, Any]]:
        entries = self.state.job_logs(request.params["jobId"])
        types = request.query.get("type")
        if types:
            entries = [e for e in entries if e["type"] in types]
        level = request.arg("levelGreaterThanOrEqualTo")
        if level:
            if level not in LOG_LEVELS:
                raise ApiError(400, "InvalidParameter", f"levelGreaterThanOrEqualTo must be one of {', '.join(LOG_LEVELS)}")
            entries = [e for e in entries if LOG_LEVELS.index(e["level"]) >= LOG_LEVELS.index(level)]
        since = request.arg("timestampGreaterThanOrEqualTo")
        if since:
            low = parse_time_us(since)
            entries = [e for e in entries if parse_time_us(e["timestamp"]) >= low]
        until = request.arg("timestampLessThanOrEqualTo")
        if until:
            high = parse_time_us(until)
            entries = [e for e in entries if parse_time_us(e["timestamp"]) <= high]
        order = (request.arg("sortOrder") or "ASC").upper()
        if order not in ("ASC", "DESC"):
            raise ApiError(400, "InvalidParameter", f"sortOrder must be ASC or DESC, got {order!r}")
        return entries[::-1] if order == "DESC" else entries

    def get_job_logs(self, request: Request) -> Response:
        page, headers = paginate(self._filtered_logs(request), request)
        return json_response(200, page, headers)

    def get_job_logs_content(self, request: Request) -> Response:
        text = "".join(f"{e['timestamp']} {e['message']}\n" for e in self.state.job_logs(request.params["jobId"]))
        return Response(200, text.encode("utf-8"), "text/plain; charset=utf-8")

    def list_job_outputs(self, request: Request) -> Response:
        items = self.state.job_outputs(request.params["jobId"])
        page, headers = paginate(items, request)
        return json_response(200, {"items": page}, headers)

    def get_job_tf_config(self, request: Request) -> Response:
        return Response(200, self.state.job_zip(request.params["jobId"]), "application/zip")

    @staticmethod
    def _record(record: dict[str, Any]) -> Response:
        return json_response(200, public_view(record), {"etag": etag_of(record)})


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
        handler = type("EmulatorHandler", (_Handler,), {"emulator": self})
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        try:
            self.httpd = server_class((host, port), handler)
        except OSError as exc:
            raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self.httpd.daemon_threads = True

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
        split = urlsplit(target)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        if path.startswith("/_emulator/"):
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
        try:
            request.principal = verify_request(self.keys, request.method, request.target, request.headers, request.body)
        except AuthError as exc:
            return error_response(401, "NotAuthenticated", f"{NOT_AUTHENTICATED} ({exc.detail})")

        status = self.state.faults.take_http_fault(request.method, request.path)
        if status is not None:
            self.state.save()  # the fault's count went down: that is state too
            if status == 429:
                return error_response(429, "TooManyRequests", "Too many requests for the tenancy (injected by the emulator)")
            return error_response(500, "InternalServerError", "Internal server error (injected by the emulator)")

        if handler is None:
            if template is not None:
                return error_response(405, "MethodNotAllowed", f"{request.method} is not allowed on {template}")
            return error_response(
                404, "NotAuthorizedOrNotFound",
                f"the emulator does not implement {request.method} {request.path}",
            )
        try:
            return getattr(self.api, handler)(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)

    def _admin(self, method: str, path: str, body: bytes, client: str) -> Response:
        if not is_loopback(client):
            return error_response(403, "NotAllowed", "the emulator's admin endpoints answer loopback clients only")
        if path == "/_emulator/health" and method == "GET":
            return json_response(200, {"ok": True, "fingerprints": self.keys.fingerprints})
        if path == "/_emulator/stats":
            if method == "GET":
                return json_response(200, self.stats())
            if method == "DELETE":
                self.reset_stats()
                return Response(204)
        if path == "/_emulator/faults":
            if method == "GET":
                return json_response(200, self.state.faults.to_dict())
            if method == "POST":
                try:
                    spec = parse_json(body, "{}")
                    return json_response(200, self.state.set_faults(spec, source="POST /_emulator/faults"))
                except (UnicodeDecodeError, ValueError) as exc:
                    # FaultsError is a ValueError too: its message names the bad field.
                    return error_response(400, "InvalidParameter", str(exc))
                except ApiError as exc:
                    return error_response(exc.status, exc.code, exc.message)
        return error_response(404, "NotAuthorizedOrNotFound", f"no admin endpoint {method} {path}")


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    emulator: EmulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK reuses its connections
    server_version = "flowstack-rm-emulator"

    def version_string(self) -> str:
        return self.server_version
    timeout = 60  # an idle keep-alive connection frees its thread after this

    def _serve(self) -> None:
        request_id = uuid.uuid4().hex.upper()
        client_id = self.headers.get("opc-request-id")
        if client_id:
            request_id = f"{client_id}/{request_id}"
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            response = error_response(413 if length > 0 else 400, "InvalidParameter", f"bad or too large content-length (limit {MAX_BODY_BYTES} bytes)")
        else:
            body = self.rfile.read(length) if length else b""
            try:
                response = self.emulator.handle(self.command, self.path, self.headers, body, self.client_address[0])
            except Exception:
                self.emulator._write_log(traceback.format_exc())
                response = error_response(500, "InternalServerError", "the emulator failed on this request; see its log")
        self.send_response(response.status)
        self.send_header("opc-request-id", request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("content-type", response.content_type)
            self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if response.status != 204 and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        self.emulator._write_log(f"{self.address_string()} {format % args}")


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
