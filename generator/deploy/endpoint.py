"""Checking a ``--endpoint`` URL before the SDK sees it (the SDK's own errors are tracebacks),
and telling a skewed clock from a bad key when the service answers 401.

>>> check_endpoint("http://127.0.0.1:8080/")
'http://127.0.0.1:8080'
>>> check_endpoint("ftp://x")
Traceback (most recent call last):
...
generator.core.errors.OciConfigError: --endpoint 'ftp://x': the scheme must be http or https; expected a URL such as https://resourcemanager.ap-chuncheon-1.oci.oraclecloud.com
"""

from __future__ import annotations

import email.utils
import ipaddress
import re
from urllib.parse import urlsplit

from generator.core.errors import OciConfigError

_EXAMPLE = "https://resourcemanager.ap-chuncheon-1.oci.oraclecloud.com"
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def check_endpoint(url: str) -> str:
    """The URL without a trailing slash, or `OciConfigError` naming what is wrong with it."""

    def bad(problem: str) -> OciConfigError:
        return OciConfigError(f"--endpoint {url!r}: {problem}; expected a URL such as {_EXAMPLE}")

    if any(c.isspace() or ord(c) < 32 for c in url):
        raise bad("a URL has no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad(str(exc).replace("Port out of range 0-65535", "the port must be 1 to 65535")) from None
    if parts.scheme not in ("http", "https"):
        raise bad("the scheme must be http or https")
    host = parts.hostname or ""
    if not host:
        raise bad("there is no host name")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.match(host):
            raise bad(f"{host!r} is not a host name") from None
    if port == 0:
        raise bad("the port must be 1 to 65535")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise bad("an endpoint has no user, query or fragment")
    return url.rstrip("/")


# OCI refuses a signed request whose date is more than five minutes from its clock.
MAX_SKEW_SECONDS = 300


def clock_skew(headers: object, now: float) -> float | None:
    """Seconds this machine's clock is ahead of the service's (negative: behind), from a response's Date header.

    >>> clock_skew({"date": "Tue, 01 Dec 2026 22:00:00 GMT"}, 1796162400.0 + 600)
    600.0
    """
    getter = getattr(headers, "get", None)
    value = getter("date") or getter("Date") if getter else None
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return now - when.timestamp()


def request_clock() -> float:
    """The time this machine writes into a request's date header (how the SDK's signer reads the clock)."""
    return email.utils.parsedate_to_datetime(email.utils.formatdate(usegmt=True)).timestamp()


def skew_message(what: str, skew: float) -> str:
    direction = "ahead of" if skew > 0 else "behind"
    return (f"the service refused the request ({what}) because this machine's clock is {abs(skew):.0f} s {direction} its own "
            f"(OCI allows {MAX_SKEW_SECONDS // 60} minutes): set the clock, e.g. `sudo timedatectl set-ntp true`")
