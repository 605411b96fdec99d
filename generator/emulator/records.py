"""What every part of the emulator says about API records: errors, times, etags, views.

Records are stored as the API shows them (camelCase fields) plus private fields whose
names start with ``_``; `public_view` and `etag_of` never look at those.

>>> format_ms(1_700_000_000_123)
'2023-11-14T22:13:20.123Z'
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

STACK_SUMMARY_FIELDS = (
    "id", "compartmentId", "displayName", "description", "timeCreated", "lifecycleState",
    "terraformVersion", "freeformTags", "definedTags",
)
JOB_SUMMARY_FIELDS = (
    "id", "stackId", "compartmentId", "displayName", "operation", "jobOperationDetails",
    "applyJobPlanResolution", "resolvedPlanJobId", "timeCreated", "timeFinished",
    "lifecycleState", "freeformTags", "definedTags",
)


class ApiError(Exception):
    """An API error response: HTTP ``status`` with body ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def not_found(kind: str, ocid: str) -> ApiError:
    return ApiError(404, "NotAuthorizedOrNotFound", f"{kind} {ocid} not found or not authorized")


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def missing(message: str) -> ApiError:
    return ApiError(400, "MissingParameter", message)


def format_ms(epoch_ms: int) -> str:
    """RFC 3339 with milliseconds and ``Z``, the form OCI uses and the SDK parses exactly."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def default_name(prefix: str, epoch_ms: int) -> str:
    """The display name the API gives an unnamed record: ``ormstack20231114221320``."""
    return prefix + format_ms(epoch_ms)[:19].replace("-", "").replace(":", "").replace("T", "")


def parse_time_us(value: str) -> int:
    """An RFC 3339 time from a query string, as integer microseconds since the epoch."""
    text = value.strip().replace(" ", "+")  # an unencoded "+00:00" arrives as " 00:00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(f"{value!r} is not an RFC 3339 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def etag_of(record: Mapping[str, Any]) -> str:
    public = {k: v for k, v in record.items() if not k.startswith("_")}
    return hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()[:40]


def check_etag(record: Mapping[str, Any], if_match: str | None) -> None:
    """412 unless ``if_match`` is absent, ``*`` or the record's current etag."""
    if if_match and if_match != "*" and if_match != etag_of(record):
        raise ApiError(412, "NoEtagMatch", "The ETag specified in the if-match header does not match the resource's current ETag")


def public_view(record: Mapping[str, Any], fields: tuple[str, ...] | None = None) -> dict[str, Any]:
    keys = fields if fields is not None else [k for k in record if not k.startswith("_")]
    return {k: copy.deepcopy(record[k]) for k in keys if record.get(k) is not None}


def str_map(value: Any, name: str) -> dict[str, str]:
    """A map-of-strings field of a request body (``variables``, ``freeformTags``)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise invalid(f"{name} must be a map of strings to strings")
    return dict(value)


def matches(item: dict[str, Any], filters: dict[str, str | None]) -> bool:
    """The list filters of the API: every filter given must equal the item's field."""
    return all(not wanted or item.get(field) == wanted for field, wanted in filters.items())
