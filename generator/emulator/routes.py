"""The Resource Manager API's routes (REST API 20180917) and their handlers, over an `EmulatorState`.

`match_route` finds the handler for a method and path; `Api` has one method per route,
which reads the request, calls the state and shapes the answer.  Lists page with
``limit``/``page`` and the ``opc-next-page`` header and sort like the real API; stacks
and jobs carry ``etag``.  Field names are the camelCase names of the SDK's
``oci.resource_manager.models``, which silently drops any field it does not know.

>>> match_route("GET", "/20180917/jobs/ocid1.ormjob.x/logs")
('/20180917/jobs/{jobId}/logs', 'get_job_logs', {'jobId': 'ocid1.ormjob.x'})
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from .messages import Request, Response, json_response
from .records import JOB_SUMMARY_FIELDS, STACK_SUMMARY_FIELDS, ApiError, etag_of, parse_time_us, public_view
from .state import EmulatorState

API_PREFIX = "/20180917"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")

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
