"""STUN Binding (RFC 5389) encoder/decoder of `flowstack doctor`, against RFC 5769's test vector."""

from __future__ import annotations

import socket
import struct
import threading
import zlib

import pytest
from stun_support import RFC5769_IPV4_RESPONSE, RFC5769_TID

from generator.ops import stun

TID = RFC5769_TID


def test_the_vector_is_intact() -> None:
    """FINGERPRINT (RFC 5389 15.5): CRC-32 of everything before it, XOR 0x5354554e."""
    body = RFC5769_IPV4_RESPONSE[:-8]
    assert zlib.crc32(body) ^ 0x5354554E == struct.unpack(">I", RFC5769_IPV4_RESPONSE[-4:])[0]


def test_decodes_rfc5769_response() -> None:
    assert stun.decode(RFC5769_IPV4_RESPONSE, TID) == ("192.0.2.1", 32853)


def test_rejects_another_transaction_and_garbage() -> None:
    with pytest.raises(stun.StunError, match="transaction ID"):
        stun.decode(RFC5769_IPV4_RESPONSE, bytes(12))
    with pytest.raises(stun.StunError, match="a header alone is 20"):
        stun.decode(b"HTTP/1.1 400", TID)


def test_request_is_a_bare_binding_request() -> None:
    packet, tid = stun.encode_request(TID)
    assert packet == bytes.fromhex("000100002112a442") + TID and tid == TID
    assert stun.is_binding_request(packet) == TID
    assert stun.is_binding_request(RFC5769_IPV4_RESPONSE) is None


def test_encode_response_round_trips_and_matches_the_vector_attribute() -> None:
    out = stun.encode_response(TID, "192.0.2.1", 32853)
    assert out[20:] == bytes.fromhex("002000080001a147e112a643")
    assert stun.decode(out, TID) == ("192.0.2.1", 32853)


def test_binding_over_loopback_and_a_silent_port() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))

    def answer() -> None:
        data, peer = server.recvfrom(2048)
        tid = stun.is_binding_request(data)
        assert tid is not None
        server.sendto(stun.encode_response(tid, *peer), peer)

    threading.Thread(target=answer, daemon=True).start()
    ip, port = stun.binding("127.0.0.1", server.getsockname()[1], timeout=2)
    assert ip == "127.0.0.1" and port > 0
    # Nobody answers: a bounded failure, not a hang.
    with pytest.raises(stun.StunError):
        stun.binding("127.0.0.1", server.getsockname()[1], timeout=0.4)
    server.close()
