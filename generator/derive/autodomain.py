"""Host names for a stack without a domain: sslip.io names derived from the server's IPv4.

``socket.203-0-113-7.sslip.io`` resolves to 203.0.113.7 through sslip.io's DNS, so Caddy
can obtain real Let's Encrypt certificates for it with nothing set up by hand. Pure
functions, standard library only; the dated facts (name forms, the Public Suffix List
and Let's Encrypt rate-limit position) live in generator/data/domains.yaml.

Design (issue 16): where the names come from, without a Terraform cycle
------------------------------------------------------------------------
The public IP exists only after the instance does, and ``user_data`` is an input of the
instance, so no name derived from the IP can be templated into cloud-init. Terraform's
*outputs* can derive them (``"socket.${replace(ip, ".", "-")}.sslip.io"``): they read
the IP after apply and feed nothing back, so outputs and ``flowstack env`` show the URLs.

The server learns its own address at boot:

1. **STUN, as LiveKit does** (``rtc.use_external_ip``): the bootstrap sends a STUN Binding
   request (``stun_binding_request``) to two public STUN servers and reads
   XOR-MAPPED-ADDRESS (``stun_mapped_address``). OCI maps a public IP 1:1 onto the VNIC's
   private IP, so the mapped address is the public IP. Both answers must agree, and
   ``acme_problem`` must find nothing wrong with it. The stack already lets LiveKit reach
   STUN servers, so this needs no new egress rule, no IAM policy and no API key.
2. **Cross-check through DNS**: the bootstrap resolves ``sslip_host("socket", ip)`` and
   requires the answer to equal the IP before Caddy starts, so a wrong guess fails with a
   clear message at boot rather than as repeated ACME failures (which count against
   Let's Encrypt's failed-validation limit).
3. **Not chosen as the default**: the instance metadata service
   (169.254.169.254/opc/v2/vnics/) lists the VNIC's private IP; that it also carries the
   public IP is not documented in anything read for this design (unverified). Reading
   the public IP from the Core API (GetVnic) needs instance-principal auth, a dynamic
   group and a tenancy policy: too much for a first deploy. A *reserved*
   public IP (day-2 work) does not remove the cycle either (assigning it needs the
   instance's private-IP OCID), but it keeps the names stable across rebuilds. That
   matters: sslip.io is not on the Public Suffix List, so every sslip.io user shares one
   Let's Encrypt "registered domain" bucket; renewing the same names is exempt from that
   limit, issuing for a new IP is not.

How the services get the names at boot: the bootstrap writes them to an env file
(``SOCKET_HOST=socket.203-0-113-7.sslip.io``, ``LIVEKIT_HOST=...``); the Caddyfile names
its sites ``{$SOCKET_HOST}`` and ``{$LIVEKIT_HOST}`` (Caddyfile environment placeholders,
substituted when Caddy loads it) and docker compose passes the env file to Caddy. LiveKit
gets the IP itself (its own STUN) and, when TURN/TLS is on, ``turn.domain`` written into
livekit.yaml by the same bootstrap step. When the user gives ``domains``, nothing here
runs: the configured names are used as today.

Example:
    >>> sslip_hosts("203.0.113.7")["socket_host"]
    'socket.203-0-113-7.sslip.io'
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections.abc import Mapping

SSLIP_SUFFIX = "sslip.io"
DEFAULT_PREFIXES = {"socket_host": "socket", "livekit_host": "livekit", "turn_host": "turn"}
MAX_HOST_LENGTH = 253  # RFC 1035, presentation form without the trailing dot
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# An IPv4 address written into a name the way sslip.io reads one (dashes or dots).
_DOCUMENTATION_NETS = tuple(ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))  # RFC 5737
_SHARED_NET = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_EMBEDDED_V4 = re.compile(r"(?:^|[.-])(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?:$|[.-])")

STUN_MAGIC_COOKIE = 0x2112A442
STUN_BINDING_REQUEST = 0x0001
STUN_BINDING_SUCCESS = 0x0101
_XOR_MAPPED_ADDRESS = 0x0020
_MAPPED_ADDRESS = 0x0001


def parse_ipv4(text: str, *, field: str = "public IP") -> ipaddress.IPv4Address:
    """``text`` as an IPv4 address, or ValueError naming ``field``, the value and the fix.

    Example:
        >>> str(parse_ipv4(" 203.0.113.7 "))
        '203.0.113.7'
    """
    value = str(text).strip()
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        pass
    hint = ""
    parts = re.split(r"[.-]", value)
    if len(parts) == 4 and all(p.isdigit() and int(p) <= 255 for p in parts):
        hint = f" (did you mean {'.'.join(str(int(p)) for p in parts)}?)"
    raise ValueError(f"{field} {value!r} is not an IPv4 address: write four numbers 0-255 with dots and no leading zeros, e.g. 203.0.113.7{hint}")


def ipv4_label(address: str) -> str:
    """The one-label dashed form sslip.io reads: 203.0.113.7 -> 203-0-113-7.

    Example:
        >>> ipv4_label("203.0.113.7")
        '203-0-113-7'
    """
    return str(parse_ipv4(address)).replace(".", "-")


def check_prefix(prefix: str, *, field: str = "host prefix") -> str:
    """``prefix`` if it is one lower-case DNS label with no IPv4 address in it (sslip.io
    would read that address instead of the server's), else ValueError.

    Example:
        >>> check_prefix("socket")
        'socket'
    """
    value = str(prefix)
    if not _LABEL.fullmatch(value):
        fixed = re.sub(r"[^a-z0-9-]+", "-", value.strip().lower()).strip("-")[:63]
        hint = f" (did you mean {fixed!r}?)" if fixed and _LABEL.fullmatch(fixed) else ""
        raise ValueError(f"{field} {value!r} is not a DNS label: use 1-63 of a-z, 0-9 and '-', not starting or ending with '-', e.g. 'socket'{hint}")
    if _EMBEDDED_V4.search(value):
        raise ValueError(f"{field} {value!r} contains an IPv4 address, which sslip.io would resolve instead of the server's: use a word, e.g. 'socket'")
    return value


def sslip_host(prefix: str, address: str) -> str:
    """``<prefix>.<a-b-c-d>.sslip.io`` for the IPv4 ``address``.

    Example:
        >>> sslip_host("livekit", "203.0.113.7")
        'livekit.203-0-113-7.sslip.io'
    """
    host = f"{check_prefix(prefix)}.{ipv4_label(address)}.{SSLIP_SUFFIX}"
    if len(host) > MAX_HOST_LENGTH:  # only a 63-char prefix comes near; kept as a guard
        raise ValueError(f"host name {host!r} is {len(host)} characters; DNS allows {MAX_HOST_LENGTH}: use a shorter prefix")
    return host


def sslip_hosts(address: str, prefixes: Mapping[str, str] = DEFAULT_PREFIXES) -> dict[str, str]:
    """Every host name of the stack from one IPv4, keyed like the config's ``domains``.

    Example:
        >>> sslip_hosts("203.0.113.7", {"socket_host": "socket"})
        {'socket_host': 'socket.203-0-113-7.sslip.io'}
    """
    hosts = {key: sslip_host(prefix, address) for key, prefix in prefixes.items()}
    if len(set(hosts.values())) != len(hosts):
        raise ValueError(f"host prefixes {dict(prefixes)!r} repeat a prefix: each host needs its own, e.g. socket and livekit")
    return hosts


def address_of(host: str) -> str:
    """The IPv4 address an sslip.io name stands for, in the forms flowstack accepts:
    ``a-b-c-d.sslip.io`` or ``a.b.c.d.sslip.io``, optionally after ``<label>.`` or
    ``<label>-``. ValueError for anything else.

    Example:
        >>> address_of("socket.203.0.113.7.sslip.io")
        '203.0.113.7'
    """
    name = str(host).strip().rstrip(".").lower()
    suffix = "." + SSLIP_SUFFIX
    if not name.endswith(suffix):
        raise ValueError(f"host {host!r} is not under {SSLIP_SUFFIX}: e.g. socket.203-0-113-7.{SSLIP_SUFFIX}")
    head = name[: -len(suffix)]
    labels = head.split(".")
    dotted = labels[-4:] if len(labels) >= 4 else []
    if dotted and all(p.isdigit() for p in dotted):
        candidate, rest = ".".join(dotted), labels[:-4]
    else:
        found = re.fullmatch(r"(?:(.+)-)?(\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3})", labels[-1])
        if not found:
            raise ValueError(f"host {host!r} has no IPv4 address before .{SSLIP_SUFFIX}: e.g. socket.203-0-113-7.{SSLIP_SUFFIX}")
        candidate, rest = found.group(2).replace("-", "."), labels[:-1] + ([found.group(1)] if found.group(1) else [])
    for label in rest:
        check_prefix(label, field=f"label in {host!r}")
    return str(parse_ipv4(candidate, field=f"address in {host!r}"))


def acme_problem(address: str) -> str | None:
    """Why Let's Encrypt could not reach a server at ``address`` (so no sslip.io name for
    it can get a certificate), or None for a public unicast IPv4.

    Example:
        >>> acme_problem("10.0.0.5")
        "10.0.0.5 is a private address, which Let's Encrypt cannot reach: sslip.io names need the server's public IP"
        >>> acme_problem("8.8.8.8") is None
        True
    """
    ip = parse_ipv4(address)
    # Most specific first: Python counts documentation, loopback and 240/4 as private too.
    kinds = (("a loopback", ip.is_loopback), ("the unspecified", ip.is_unspecified), ("a multicast", ip.is_multicast),
             ("a link-local", ip.is_link_local), ("a shared (carrier-grade NAT)", ip in _SHARED_NET),
             ("a documentation-only", any(ip in n for n in _DOCUMENTATION_NETS)), ("a reserved", ip.is_reserved),
             ("a private", ip.is_private), ("a non-public", not ip.is_global))
    for kind, hit in kinds:
        if hit:
            return f"{ip} is {kind} address, which Let's Encrypt cannot reach: sslip.io names need the server's public IP"
    return None


def stun_binding_request(transaction_id: bytes) -> bytes:
    """A STUN Binding request (RFC 5389) with no attributes, for a 12-byte transaction ID.

    Example:
        >>> stun_binding_request(bytes(12)).hex()
        '000100002112a442000000000000000000000000'
    """
    if len(transaction_id) != 12:
        raise ValueError(f"STUN transaction ID is {len(transaction_id)} bytes; it must be 12 (e.g. os.urandom(12))")
    return struct.pack("!HHI", STUN_BINDING_REQUEST, 0, STUN_MAGIC_COOKIE) + transaction_id


def stun_mapped_address(response: bytes, transaction_id: bytes) -> tuple[str, int]:
    """(address, port) from a STUN Binding success response to ``transaction_id``:
    XOR-MAPPED-ADDRESS, else the legacy MAPPED-ADDRESS. ValueError for anything else.

    Example:
        >>> stun_mapped_address(bytes.fromhex("0101000c2112a442" + "00" * 12 + "002000080001a147e112a643"), bytes(12))
        ('192.0.2.1', 32853)
    """
    if len(response) < 20:
        raise ValueError(f"STUN response is {len(response)} bytes; a header alone is 20")
    kind, length, cookie = struct.unpack("!HHI", response[:8])
    if cookie != STUN_MAGIC_COOKIE or response[8:20] != transaction_id:
        raise ValueError("STUN response is not an answer to this request (magic cookie or transaction ID differ)")
    if kind != STUN_BINDING_SUCCESS:
        raise ValueError(f"STUN response type is 0x{kind:04x}, not a Binding success (0x0101)")
    if 20 + length > len(response) or length % 4:
        raise ValueError(f"STUN response says {length} bytes of attributes but carries {len(response) - 20}")
    found: dict[int, bytes] = {}
    at = 20
    while at + 4 <= 20 + length:
        attr, size = struct.unpack("!HH", response[at : at + 4])
        found.setdefault(attr, response[at + 4 : at + 4 + size])
        at += 4 + size + (-size % 4)  # attributes are padded to 4 bytes
    if _XOR_MAPPED_ADDRESS in found:
        return _address(found[_XOR_MAPPED_ADDRESS], xor=response[4:20])
    if _MAPPED_ADDRESS in found:
        return _address(found[_MAPPED_ADDRESS], xor=None)
    raise ValueError("STUN response has no (XOR-)MAPPED-ADDRESS attribute")


def _address(value: bytes, *, xor: bytes | None) -> tuple[str, int]:
    """Decode a (XOR-)MAPPED-ADDRESS value; ``xor`` is cookie + transaction ID, or None."""
    if len(value) < 8 or value[1] not in (1, 2) or len(value) != (8 if value[1] == 1 else 20):
        raise ValueError("STUN mapped address is malformed")
    port = struct.unpack("!H", value[2:4])[0]
    raw = value[4:]
    if xor is not None:
        port ^= STUN_MAGIC_COOKIE >> 16
        raw = bytes(b ^ k for b, k in zip(raw, xor[: len(raw)], strict=True))  # IPv4 uses the cookie only
    ip = ipaddress.IPv4Address(raw) if value[1] == 1 else ipaddress.IPv6Address(raw)
    return str(ip), port
