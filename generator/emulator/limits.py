"""Bounds on what the emulator accepts, so a hostile client cannot make it hang, eat memory
or be driven from a web page.

* JSON: no NaN/Infinity (not JSON, and a fault of ``Infinity`` seconds would never end),
  nesting at most `MAX_JSON_DEPTH` deep (checked by a scan before the recursive parser runs);
* zips: at most `MAX_ZIP_ENTRIES` members and `MAX_INFLATED_BYTES` once inflated, measured
  by inflating in bounded chunks (a header's declared size can lie);
* admin endpoints: loopback clients (``::ffff:127.0.0.1`` included), and no browser
  cross-origin requests: a page can send a "simple" POST without a preflight, but not one
  with ``content-type: application/json`` or a custom header, nor hide its Origin.

>>> parse_json(b'{"a": [1, 2]}')
{'a': [1, 2]}
>>> is_loopback("::ffff:127.0.0.1")
True
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import json
import zipfile
from typing import Any

MAX_JSON_DEPTH = 32
# Every JSON body any endpoint reads (API, faults, metrics): one size and one depth limit.
# The largest real body is a stack create/update carrying a base64 zip.
MAX_JSON_BYTES = 32 * 1024 * 1024
MAX_NUMBER_CHARS = 100  # a longer number is no count, time or OCID any endpoint takes
MAX_ZIP_ENTRIES = 2000
MAX_INFLATED_BYTES = 64 * 1024 * 1024
ADMIN_TOKEN_HEADER = "x-flowstack-emulator"


class LimitError(ValueError):
    """Input over one of the bounds; the message says which."""


def _no_constant(name: str) -> Any:
    raise LimitError(f"{name} is not a JSON number")


def json_depth(text: str) -> int:
    """The deepest bracket nesting outside strings (an iterative scan: no recursion).

    >>> json_depth('{"a": "[[[", "b": [[1]]}')
    3
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _number(text: str) -> Any:
    if len(text) > MAX_NUMBER_CHARS:
        raise LimitError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if value in (float("inf"), float("-inf")):
        raise LimitError(f"{text} is too large for a number")
    return value


def parse_json(body: bytes, default: str = "null") -> Any:
    """JSON from a request body, for every endpoint: `LimitError` (a ValueError) for a body over
    `MAX_JSON_BYTES`, nesting over `MAX_JSON_DEPTH`, NaN/Infinity, a number too long or too
    large, or text that is not UTF-8."""
    if len(body) > MAX_JSON_BYTES:
        raise LimitError(f"the JSON body is {len(body)} bytes (at most {MAX_JSON_BYTES})")
    try:
        text = body.decode("utf-8") or default
    except UnicodeDecodeError as exc:
        raise LimitError(f"the body is not UTF-8 (byte {exc.start})") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise LimitError(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text, parse_constant=_no_constant, parse_int=_number, parse_float=_number)


def decode_zip(encoded: Any) -> bytes:
    """A base64-encoded zip, decoded and checked by `check_zip`; `LimitError` says what is wrong."""
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise LimitError("is not valid base64") from None
    check_zip(data)
    return data


def check_zip(data: bytes) -> None:
    """Refuse a zip with too many members or that inflates past `MAX_INFLATED_BYTES`."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        return  # not a zip: reported as such when the job reads it
    if len(infos) > MAX_ZIP_ENTRIES:
        raise LimitError(f"has {len(infos)} members (the emulator takes at most {MAX_ZIP_ENTRIES})")
    if sum(i.file_size for i in infos) > MAX_INFLATED_BYTES:
        raise LimitError(f"inflates to more than {MAX_INFLATED_BYTES // 2**20} MB")
    total = 0
    for info in infos:
        try:
            with archive.open(info) as member:
                while chunk := member.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_INFLATED_BYTES:
                        raise LimitError(f"inflates to more than {MAX_INFLATED_BYTES // 2**20} MB (its headers say less)")
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
            return  # a broken member: the job reports it


def is_loopback(client: str) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped forms."""
    try:
        address = ipaddress.ip_address(client.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def admin_request_problem(method: str, headers: Any) -> str | None:
    """Why an admin request may come from a web page (and is refused), or None."""
    get = headers.get
    if get("origin") or (get("sec-fetch-site") or "none") not in ("none", "same-origin"):
        return "a browser's cross-origin request"
    if method in ("GET", "HEAD"):
        return None
    ctype = (get("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/json" and not get(ADMIN_TOKEN_HEADER):
        return f"a {method} without content-type application/json (or a {ADMIN_TOKEN_HEADER} header)"
    return None
