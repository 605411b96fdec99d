"""generator/derive/autodomain.py: sslip.io names from an IPv4, their checks, and the STUN codec
the bootstrap would use to learn the public IP (RFC 5769 test vectors)."""

from __future__ import annotations

import ast
import hashlib
import hmac
import struct
import sys
import zlib
from pathlib import Path

import pytest
import yaml
from stun_support import RFC5769_IPV4_RESPONSE, RFC5769_PASSWORD, RFC5769_TID

from generator.derive import autodomain as ad

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = yaml.safe_load((ROOT / "generator" / "data" / "domains.yaml").read_text(encoding="utf-8"))



def test_hosts_for_every_stack_name() -> None:
    assert ad.sslip_hosts("203.0.113.7") == {
        "socket_host": "socket.203-0-113-7.sslip.io",
        "livekit_host": "livekit.203-0-113-7.sslip.io",
        "turn_host": "turn.203-0-113-7.sslip.io",
    }
    assert ad.sslip_host("app", " 198.51.100.250 ") == "app.198-51-100-250.sslip.io"


@pytest.mark.parametrize("form", DOMAINS["sslip_io"]["forms"], ids=lambda f: f["name"])
def test_address_of_reads_every_recorded_ipv4_form(form: dict[str, str]) -> None:
    """The forms sslip.io documents (recorded in domains.yaml) map back to their address."""
    if ":" in form["address"]:
        with pytest.raises(ValueError, match="no IPv4 address"):
            ad.address_of(form["name"])  # IPv6 names exist, flowstack derives IPv4 ones only
    else:
        assert ad.address_of(form["name"]) == form["address"]


@pytest.mark.parametrize("ip", ["203.0.113.7", "1.2.3.4", "255.255.255.255", "0.0.0.0", "129.146.10.200"])
def test_round_trip(ip: str) -> None:
    for host in ad.sslip_hosts(ip).values():
        assert ad.address_of(host) == ip
        assert len(host) <= ad.MAX_HOST_LENGTH


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("203.0.113.007", r"did you mean 203\.0\.113\.7\?"),
        ("203-0-113-7", r"did you mean 203\.0\.113\.7\?"),
        ("203.0.113", "not an IPv4 address"),
        ("203.0.113.256", "not an IPv4 address"),
        ("2001:db8::1", "not an IPv4 address"),
        ("", "not an IPv4 address"),
    ],
)
def test_bad_addresses_say_what_is_right(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        ad.sslip_host("socket", value)
    assert repr(value.strip()) in str(err.value) and "e.g. 203.0.113.7" in str(err.value)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("Socket", "did you mean 'socket'"),
        ("my_app", "did you mean 'my-app'"),
        ("-socket", "not a DNS label"),
        ("socket-", "not a DNS label"),
        ("a.b", "did you mean 'a-b'"),
        ("x" * 64, "not a DNS label"),
        ("", "not a DNS label"),
        ("10-0-0-1", "contains an IPv4 address"),
        ("ip-10-0-0-1", "contains an IPv4 address"),
    ],
)
def test_bad_prefixes_are_refused(prefix: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ad.sslip_host(prefix, "203.0.113.7")


def test_prefixes_must_differ() -> None:
    with pytest.raises(ValueError, match="repeat a prefix"):
        ad.sslip_hosts("203.0.113.7", {"socket_host": "app", "livekit_host": "app"})


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("socket.203-0-113-7.nip.io", "not under sslip.io"),
        ("socket.sslip.io", "no IPv4 address"),
        ("socket.203-0-113.sslip.io", "no IPv4 address"),
        ("socket.300.0.113.7.sslip.io", "not an IPv4 address"),
        ("10-0-0-1.203-0-113-7.sslip.io", "contains an IPv4 address"),
        ("bad_label.203-0-113-7.sslip.io", "not a DNS label"),
    ],
)
def test_address_of_refuses_names_that_are_not_one_clear_address(host: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ad.address_of(host)


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("10.0.0.5", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"), ("0.0.0.0", "unspecified"), ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"), ("203.0.113.7", "documentation-only"),
        ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"),
    ],
)
def test_acme_problem_names_addresses_lets_encrypt_cannot_reach(ip: str, kind: str) -> None:
    problem = ad.acme_problem(ip)
    assert problem is not None and kind in problem and ip in problem


@pytest.mark.parametrize("ip", ["8.8.8.8", "129.146.10.200", "152.67.1.2"])
def test_acme_problem_passes_public_addresses(ip: str) -> None:
    assert ad.acme_problem(ip) is None


def test_rfc5769_vector_is_intact() -> None:
    """The vector's own FINGERPRINT (CRC-32) and MESSAGE-INTEGRITY (HMAC-SHA1) check out,
    so the bytes below are RFC 5769's and not a typo that the parser happens to accept."""
    v = RFC5769_IPV4_RESPONSE
    assert struct.pack("!I", zlib.crc32(v[:-8]) ^ 0x5354554E) == v[-4:]
    mi = len(v) - 8 - 24
    header = v[:2] + struct.pack("!H", mi + 24 - 20) + v[4:20]
    assert hmac.new(RFC5769_PASSWORD, header + v[20:mi], hashlib.sha1).digest() == v[mi + 4 : mi + 24]


def test_stun_mapped_address_reads_rfc5769_response() -> None:
    assert ad.stun_mapped_address(RFC5769_IPV4_RESPONSE, RFC5769_TID) == ("192.0.2.1", 32853)


def test_stun_request_is_a_binding_request() -> None:
    request = ad.stun_binding_request(RFC5769_TID)
    assert len(request) == 20
    assert struct.unpack("!HHI", request[:8]) == (0x0001, 0, 0x2112A442)
    assert request[8:] == RFC5769_TID
    with pytest.raises(ValueError, match="must be 12"):
        ad.stun_binding_request(b"short")


def test_stun_legacy_mapped_address_and_ipv6() -> None:
    legacy = struct.pack("!HHI", 0x0101, 12, 0x2112A442) + RFC5769_TID + bytes.fromhex("000100080001d4310a000005")
    assert ad.stun_mapped_address(legacy, RFC5769_TID) == ("10.0.0.5", 54321)
    # RFC 5769 section 2.3: XOR-MAPPED-ADDRESS 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
    xor6 = bytes.fromhex("00200014" "0002a147" "0113a9fa a5d3f179 bc25f4b5 bed2b9d9".replace(" ", ""))
    v6 = struct.pack("!HHI", 0x0101, len(xor6), 0x2112A442) + RFC5769_TID + xor6
    assert ad.stun_mapped_address(v6, RFC5769_TID) == ("2001:db8:1234:5678:11:2233:4455:6677", 32853)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda v: v[:19], "a header alone is 20"),
        (lambda v: v[:8] + bytes(12) + v[20:], "not an answer to this request"),
        (lambda v: v[:4] + b"\x00\x00\x00\x00" + v[8:], "not an answer to this request"),
        (lambda v: b"\x01\x11" + v[2:], "not a Binding success"),
        (lambda v: v[:2] + b"\x00\x50" + v[4:], "says 80 bytes"),
        (lambda v: v[:2] + b"\x00\x10" + v[4:36], "no \\(XOR-\\)MAPPED-ADDRESS"),
        (lambda v: v[:40] + b"\x00\x07" + v[42:], "mapped address is malformed"),
    ],
)
def test_stun_mapped_address_refuses_bad_responses(mutate: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ad.stun_mapped_address(mutate(RFC5769_IPV4_RESPONSE), RFC5769_TID)  # type: ignore[operator]


def test_imports_only_the_standard_library() -> None:
    tree = ast.parse((ROOT / "generator" / "derive" / "autodomain.py").read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert relative == [] and names <= set(sys.stdlib_module_names) | {"__future__"}, names


def test_domains_data_is_dated_and_sourced() -> None:
    """Every recorded fact names where it came from and when it was read."""
    assert DOMAINS["public_suffix_list"]["sslip_io_listed"] is False
    for key in ("sslip_io", "lets_encrypt"):
        section = DOMAINS[key] if key == "sslip_io" else DOMAINS[key]["limit"]
        assert section["source"]["url"].startswith("https://") and section["source"]["read"]
    assert DOMAINS["lets_encrypt"]["sslip_io_current_limit"] == "unverified"
    for event in DOMAINS["lets_encrypt"]["sslip_io_history"]:
        assert event["date"] and event["source"].startswith("https://github.com/cunnie/sslip.io/issues/")
