"""STUN Binding (RFC 5389): the request TURN/UDP must answer, and the answer's mapped address.

A Binding request is a 20-byte header: type 0x0001, length, the magic cookie 0x2112A442
and a 96-bit transaction id (RFC 5389 section 6).  A success response (0x0101) carries
XOR-MAPPED-ADDRESS (0x0020, section 15.2: port XOR the cookie's top 16 bits, IPv4 XOR
the cookie) or, from old servers, MAPPED-ADDRESS (0x0001).  Attributes are padded to 4
bytes (section 15).  Nothing here sends a packet except `binding`.

>>> tid = bytes(12)
>>> decode(encode_response(tid, "203.0.113.5", 40000), tid)
('203.0.113.5', 40000)
"""

from __future__ import annotations

import os
import socket
import struct
import time

from generator.derive.autodomain import stun_binding_request, stun_mapped_address

MAGIC = 0x2112A442
BINDING_REQUEST, BINDING_SUCCESS, BINDING_ERROR = 0x0001, 0x0101, 0x0111
XOR_MAPPED_ADDRESS = 0x0020


class StunError(Exception):
    """Not a STUN answer to our request (one-line message)."""


def encode_request(transaction_id: bytes | None = None) -> tuple[bytes, bytes]:
    """(packet, transaction id) of a Binding request without attributes (codec: ``autodomain``)."""
    tid = transaction_id or os.urandom(12)
    return stun_binding_request(tid), tid


def _xor_address(ip: str, port: int) -> bytes:
    packed = struct.unpack(">I", socket.inet_aton(ip))[0] ^ MAGIC
    return struct.pack(">BBHI", 0, 0x01, port ^ (MAGIC >> 16), packed)


def encode_response(transaction_id: bytes, ip: str, port: int) -> bytes:
    """A Binding success response with XOR-MAPPED-ADDRESS (what a STUN server sends back)."""
    value = _xor_address(ip, port)
    attr = struct.pack(">HH", XOR_MAPPED_ADDRESS, len(value)) + value
    return struct.pack(">HHI", BINDING_SUCCESS, len(attr), MAGIC) + transaction_id + attr


def is_binding_request(packet: bytes) -> bytes | None:
    """The transaction id if ``packet`` is a Binding request, else None (for responders)."""
    if len(packet) < 20:
        return None
    kind, length, cookie = struct.unpack(">HHI", packet[:8])
    if kind != BINDING_REQUEST or cookie != MAGIC or len(packet) != 20 + length:
        return None
    return packet[8:20]


def decode(packet: bytes, transaction_id: bytes) -> tuple[str, int]:
    """The mapped (ip, port) of a Binding success response to ``transaction_id``; StunError otherwise.

    The codec has one home, ``autodomain`` (the server's boot step uses it too); this adds
    the Binding *error* answer a TURN port may give, which is still a finding of its own.
    """
    if len(packet) >= 20 and struct.unpack(">H", packet[:2])[0] == BINDING_ERROR and packet[8:20] == transaction_id:
        raise StunError("Binding error response")
    try:
        return stun_mapped_address(packet, transaction_id)
    except ValueError as exc:
        raise StunError(str(exc)) from None


def binding(ip: str, port: int, timeout: float = 2.0, attempts: int = 2) -> tuple[str, int]:
    """Send a Binding request to ip:port/udp and return the mapped address; StunError if none comes."""
    packet, tid = encode_request()
    end = time.monotonic() + timeout  # the whole probe's budget: a flood of other packets cannot extend it
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for attempt in range(attempts):  # UDP: one retransmission (RFC 5389 7.2.1, shortened)
            until = min(end, time.monotonic() + timeout / attempts) if attempt < attempts - 1 else end
            try:
                sock.sendto(packet, (ip, port))
                while True:
                    left = until - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    sock.settimeout(left)
                    data, _ = sock.recvfrom(2048)
                    try:
                        return decode(data, tid)
                    except StunError:
                        if data[8:20] == tid:
                            raise
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                raise StunError(f"{ip}:{port}/udp refused (ICMP port unreachable)") from None
            except OSError as exc:
                raise StunError(f"{ip}:{port}/udp: {exc.strerror or exc}") from None
    raise StunError(f"no STUN answer from {ip}:{port}/udp within {timeout:g} s")
