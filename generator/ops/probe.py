"""Network probes from the user's machine: name resolution, TCP, TLS (certificate), HTTP(S), WebSocket upgrade.

Standard library sockets with short, bounded timeouts, so each probe says exactly what
failed.  ``Target`` carries the overrides tests (and users behind split DNS) need: a
``--resolve HOST=IP`` table used instead of DNS, and a ``--ca-file`` trusted instead of
the system store.

>>> Target(resolve={"a.example": "10.78.0.2"}).addresses("a.example")
['10.78.0.2']
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from generator.core.errors import FlowstackError

TIMEOUT = 4.0


class ProbeError(Exception):
    """A probe that did not get an answer; the message is one line."""


class Deadline:
    """One probe's whole time budget: connect, TLS handshake, sending and every read share it.

    Each blocking step gets the time that is left as its socket timeout (CPython bounds a TLS
    handshake or read by its timeout in total, not per packet), so a server that answers a
    byte at a time, or never stops sending, ends the probe when the budget is spent.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds, self.end = seconds, time.monotonic() + seconds

    def left(self, where: str) -> float:
        """Seconds left (> 0); `ProbeError` naming ``where`` once the budget is spent."""
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise ProbeError(f"{where}: no complete answer within {self.seconds:g} s (a slow or stalled server)")
        return remaining


@dataclass(frozen=True)
class Row:
    """One doctor check: PASS / WARN / FAIL, what was seen, the fix in one line."""

    check: str
    status: str  # PASS, WARN, FAIL
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix}


def parse_resolve(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``HOST=IP`` pairs (``--resolve``) as a dict; `FlowstackError` naming a bad one."""
    out: dict[str, str] = {}
    for item in items:
        host, sep, ip = item.partition("=")
        try:
            socket.inet_aton(ip)
            ok = bool(sep and host) and ip.count(".") == 3
        except OSError:
            ok = False
        if not ok:
            raise FlowstackError(f"--resolve: {item!r} is not HOST=IPV4, e.g. --resolve space-socket.example.com=203.0.113.10")
        out[host.lower()] = ip
    return out


def _resolve(host: str, box: list[Any]) -> None:
    try:
        box.append(socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM))
    except socket.gaierror as exc:
        box.append(exc)
    except (OSError, UnicodeError) as exc:
        box.append(socket.gaierror(0, str(exc)))


@dataclass(frozen=True)
class Target:
    """How to reach hosts: DNS overrides, CA bundle, timeout."""

    resolve: dict[str, str] = field(default_factory=dict)
    ca_file: str | None = None
    timeout: float = TIMEOUT

    def addresses(self, host: str) -> list[str]:
        """IPv4 addresses of ``host`` (the override, else DNS A records); ProbeError if none."""
        if host.lower() in self.resolve:
            return [self.resolve[host.lower()]]
        # getaddrinfo has no timeout of its own: it runs in a daemon thread the probe stops waiting for.
        box: list[Any] = []
        worker = threading.Thread(target=_resolve, args=(host, box), daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not box:
            raise ProbeError(f"{host}: no DNS answer within {self.timeout:g} s")
        if isinstance(box[0], socket.gaierror):
            raise ProbeError(f"{host} does not resolve ({box[0].strerror})")
        return sorted({str(i[4][0]) for i in box[0]})

    def context(self, verify: bool = True) -> ssl.SSLContext:
        if not verify:
            ctx = ssl._create_unverified_context()  # noqa: S323 - only to read a certificate that failed verification
            return ctx
        if self.ca_file and not os.path.isfile(self.ca_file):
            raise FlowstackError(f"--ca-file: {self.ca_file} does not exist; give a PEM bundle of CA certificates")
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass(frozen=True)
class CertInfo:
    issuer: str
    subject: str
    names: tuple[str, ...]
    not_after: dt.datetime

    def days_left(self, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.timezone.utc)
        return int((self.not_after - now).total_seconds() // 86400)

    def to_dict(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "subject": self.subject, "names": list(self.names),
                "not_after": self.not_after.isoformat(), "days_left": self.days_left()}


def _name(name: x509.Name) -> str:
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        attrs = name.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)
    return name.rfc4514_string()


def cert_info(der: bytes) -> CertInfo:
    cert = x509.load_der_x509_certificate(der)
    try:
        names = tuple(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertInfo(_name(cert.issuer), _name(cert.subject), names, cert.not_valid_after_utc)


@dataclass(frozen=True)
class TlsResult:
    """A handshake: ``error`` is None when the certificate verified for the host name."""

    host: str
    ip: str
    cert: CertInfo | None
    error: str | None


def connect(ip: str, port: int, timeout: float, deadline: Deadline | None = None) -> socket.socket:
    """A TCP connection within ``timeout`` (or what is left of ``deadline``)."""
    where = f"{ip}:{port}/tcp"
    budget = deadline.left(where) if deadline else timeout
    try:
        return socket.create_connection((ip, port), timeout=budget)
    except TimeoutError:
        raise ProbeError(f"{where}: no answer within {budget:g} s (filtered?)") from None
    except OSError as exc:
        raise ProbeError(f"{where}: {exc.strerror or exc}") from None


def _handshake(target: Target, raw: socket.socket, host: str, deadline: Deadline, verify: bool = True) -> ssl.SSLSocket:
    raw.settimeout(deadline.left(f"{host}: TLS handshake"))
    try:
        return target.context(verify).wrap_socket(raw, server_hostname=host)
    except TimeoutError:
        raise ProbeError(f"{host}: TLS handshake not finished within {deadline.seconds:g} s (a slow or stalled server)") from None


def tls(target: Target, host: str, ip: str, port: int = 443) -> TlsResult:
    """Handshake with SNI ``host``; on a verification failure the certificate is still read.
    Both handshakes share one deadline of ``target.timeout``."""
    deadline = Deadline(target.timeout)
    try:
        with connect(ip, port, target.timeout, deadline) as raw, _handshake(target, raw, host, deadline) as s:
            der = s.getpeercert(binary_form=True)
            return TlsResult(host, ip, cert_info(der) if der else None, None)
    except ssl.SSLCertVerificationError as exc:
        error = exc.verify_message or exc.reason or str(exc)
    except ProbeError as exc:
        return TlsResult(host, ip, None, str(exc))
    except (ssl.SSLError, OSError) as exc:
        return TlsResult(host, ip, None, f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}")
    try:
        with connect(ip, port, target.timeout, deadline) as raw, _handshake(target, raw, host, deadline, verify=False) as s:
            der = s.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError, ProbeError, ValueError):
        der = None
    try:
        cert = cert_info(der) if der else None
    except ValueError:  # a certificate the parser cannot read: the verification error says enough
        cert = None
    return TlsResult(host, ip, cert, str(error))


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes


def http(target: Target, host: str, ip: str, path: str = "/", *, port: int | None = None, secure: bool = True,
         headers: dict[str, str] | None = None, verify: bool = True) -> HttpResult:
    """One HTTP/1.1 GET over TLS when ``secure`` (certificate checked unless not ``verify``); ProbeError when there is no answer."""
    port = port or (443 if secure else 80)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "User-Agent: flowstack-probe", "Accept: */*", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    deadline = Deadline(target.timeout)  # one budget for connect, TLS, send and read
    sock = connect(ip, port, target.timeout, deadline)
    try:
        if secure:
            try:
                sock = _handshake(target, sock, host, deadline, verify)
            except (ssl.SSLError, OSError) as exc:
                raise ProbeError(f"https://{host}: TLS failed: {getattr(exc, 'verify_message', None) or getattr(exc, 'reason', None) or exc}") from None
        sock.settimeout(deadline.left(f"{host}:{port}"))
        sock.sendall(request)
        data = _read_head_and_some(sock, deadline, f"{host}:{port}")
    except TimeoutError:
        raise ProbeError(f"{host}:{port}: no complete answer within {target.timeout:g} s (a slow or stalled server)") from None
    except OSError as exc:
        raise ProbeError(f"{host}:{port}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    return parse_response(data, f"{host}:{port}")


def _read_head_and_some(sock: socket.socket, deadline: Deadline, where: str, limit: int = 65536) -> bytes:
    """The answer up to ``limit`` bytes (the head and the start of the body), within the deadline:
    a server that drips bytes or never stops sending ends with what arrived by then, or a
    `ProbeError` if not even the head did."""
    data = b""
    while len(data) < limit:
        try:
            sock.settimeout(deadline.left(where))
            chunk = sock.recv(min(8192, limit - len(data)))
        except (TimeoutError, ProbeError):
            if b"\r\n\r\n" in data:
                break  # the head arrived: judge by it
            raise ProbeError(f"{where}: no complete answer within {deadline.seconds:g} s (a slow or stalled server)") from None
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data and (b" 101 " in data.split(b"\r\n", 1)[0]):
            break  # an upgraded connection never closes by itself
    return data


def parse_response(data: bytes, where: str) -> HttpResult:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProbeError(f"{where}: not an HTTP answer ({lines[0][:60]!r})")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:]) if k}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = dechunk(body)
    return HttpResult(int(parts[1]), headers, body)


def dechunk(data: bytes) -> bytes:
    """A chunked body (RFC 9112 7.1) as its bytes; a truncated tail is kept as far as it goes."""
    out, pos = b"", 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return out
        try:
            size = int(data[pos:end].split(b";")[0], 16)
        except ValueError:
            return out
        if size == 0:
            return out
        out += data[end + 2:end + 2 + size]
        pos = end + 2 + size + 2


def websocket_key() -> str:
    return base64.b64encode(os.urandom(16)).decode("ascii")
