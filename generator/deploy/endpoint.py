"""Checking a ``--endpoint`` URL before the SDK sees it (the SDK's own errors are tracebacks).

>>> check_endpoint("http://127.0.0.1:8080/")
'http://127.0.0.1:8080'
>>> check_endpoint("ftp://x")
Traceback (most recent call last):
...
generator.errors.OciConfigError: --endpoint 'ftp://x': the scheme must be http or https; expected a URL such as https://resourcemanager.ap-chuncheon-1.oci.oraclecloud.com
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ..errors import OciConfigError

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
