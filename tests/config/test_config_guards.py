"""Issue 13.5, 13.8, 13.9: accepted-but-wrong configs are refused, naming the field, the limit
and its source; user text that reaches Caddy is quoted (checked with the real `caddy adapt`).

Each class is parametrized over many inputs, with the nearest accepted input beside it so a
check that refuses everything would fail too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.config.inputguard import credential_kind, limit
from generator.config.load import parse_config
from generator.core.caddyquote import caddy_token
from generator.core.errors import ConfigError, RenderError
from generator.emit.cloudinit import render_caddyfile

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "stacks" / "flowspace.yaml").read_text())


def merged(changes: dict[str, Any]) -> str:
    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            out = dict(a)
            for k, v in b.items():
                out[k] = merge(a.get(k), v) if k in a else v
            return out
        return b

    return yaml.safe_dump(merge(BASE, changes))


def refused(changes: dict[str, Any], *needles: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(merged(changes), "c.yaml")
    msg = str(info.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, msg
    return msg


# ------------------------------------------------------------------ 8: secrets

SECRET_VALUES = [
    "AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A", "ghp_" + "a1B2" * 9, "github_pat_11ABCDEFG0123456789_abcdefghij",
    "gho_" + "x" * 36, "xoxb-123456789012-abcdefghijkl", "xoxp-1-2-3-abcdefabcdef", "glpat-abcdefghij0123456789",
    "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----", "sk_live_" + "a" * 24,
    "AIza" + "B" * 35, "https://hooks.slack.com/services/T000/B000/XXXX", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
    "ocid1.credential.oc1..aaaa", "prefix AKIAIOSFODNN7EXAMPLE suffix",
]


@pytest.mark.parametrize("value", SECRET_VALUES)
@pytest.mark.parametrize("where", ["env", "tags", "description"])
def test_credentials_in_config_text_are_refused_and_not_echoed(value: str, where: str) -> None:
    changes = {"env": {"socket": {"env": {"NODE_ENV": "production", "X": value}}},
               "tags": {"tags": {"k": value}}, "description": {"description": value}}[where]
    msg = refused(changes, "looks like", "not shown", "written into the zip")
    assert value not in msg


@pytest.mark.parametrize("value", ["production", "AKIA-short", "ghp_short", "xox", "BEGIN", "just text", "eyJhbGc"])
def test_harmless_text_is_not_a_credential(value: str) -> None:
    assert credential_kind(value) is None
    parse_config(merged({"socket": {"env": {"NODE_ENV": "production", "X": value}}}), "c.yaml")


@pytest.mark.parametrize("name", ["API_TOKEN", "DB_PASSWORD", "JWT_SECRET", "AWS_SECRET_KEY", "STRIPE_API_KEY", "PRIVATE_KEY", "TOKEN"])
def test_secret_looking_env_names_go_to_secret_env(name: str) -> None:
    refused({"socket": {"env": {"NODE_ENV": "production", name: "x"}}}, f"socket.env.{name}", "secret_env")


@pytest.mark.parametrize("url", ["https://user:tok@github.com/a/b.git", "https://x-access-token:ghs_abc@github.com/a/b.git",
                                 "https://token@github.com/a/b.git", "https://oauth2:glpat-xyz@gitlab.com/a/b.git"])
def test_credentials_in_git_url_are_refused(url: str) -> None:
    msg = refused({"socket": {"git": {"url": url}}}, "socket.git.url", "credentials", "socket_git_token")
    secret = url.split("//", 1)[1].split("@", 1)[0]
    assert f"//{secret}@" not in msg


def test_git_url_without_credentials_passes() -> None:
    parse_config(merged({"socket": {"git": {"url": "https://github.com/a/b.git"}}}), "c.yaml")


# ------------------------------------------------------------------ 9: accepted but wrong

@pytest.mark.parametrize("field", [("socket", "port"), ("livekit", "port"), ("livekit", "rtc", "tcp_port"),
                                   ("livekit", "turn", "udp_port"), ("instance", "availability_domain"), ("instance", "ocpus"),
                                   ("budget", "thresholds"), ("budget", "amount"), ("extra_ports",)])
@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers(field: tuple[str, ...], value: bool) -> None:
    changes: Any = [value, 50.0] if field[-1] == "thresholds" else value
    for part in reversed(field):
        changes = {part: changes}
    refused(changes, ".".join(field), "yes/no value")


@pytest.mark.parametrize("host", ["1.2.3.4", "203.0.113.7", "10.0.0.1", "::1", "2001:db8::1", "example.123"])
def test_ip_address_host_names_are_refused(host: str) -> None:
    try:
        refused({"domains": {"socket_host": host}}, "domains.socket_host")
    except AssertionError:
        raise
    if host.count(".") == 3:
        refused({"domains": {"socket_host": host}}, "ACME", "sslip.io")


@pytest.mark.parametrize("region", ["us-ashburn-2", "ap-chunchon-1", "xx-nowhere-1", "eu-frankfurt-9"])
def test_unknown_region_is_refused_like_cost_does(region: str) -> None:
    refused({"region": region}, "region", "not a known OCI region", "prices.yaml")


@pytest.mark.parametrize("region", ["ap-chuncheon-1", "us-ashburn-1", "eu-frankfurt-1", "ap-seoul-1"])
def test_known_regions_pass(region: str) -> None:
    assert parse_config(merged({"region": region}), "c.yaml").region == region


@pytest.mark.parametrize(("vcn", "subnet"), [("10.0.0.0/8", "10.0.1.0/24"), ("10.0.0.0/15", "10.0.1.0/24"), ("10.0.0.0/31", "10.0.0.0/31")])
def test_vcn_size_outside_oci_range(vcn: str, subnet: str) -> None:
    refused({"network": {"vcn_cidr": vcn, "subnet_cidr": subnet}}, "network.vcn_cidr", "16 to 30", "overview.htm")


@pytest.mark.parametrize("subnet", ["10.0.0.0/31", "10.0.0.0/32"])
def test_subnet_size_outside_oci_range(subnet: str) -> None:
    refused({"network": {"vcn_cidr": "10.0.0.0/16", "subnet_cidr": subnet}}, "network.subnet_cidr", "16 to 30", "source:")


@pytest.mark.parametrize(("vcn", "subnet"), [("10.0.0.0/16", "10.0.1.0/24"), ("10.0.0.0/30", "10.0.0.0/30"), ("172.16.0.0/16", "172.16.0.0/16")])
def test_vcn_and_subnet_inside_range_pass(vcn: str, subnet: str) -> None:
    parse_config(merged({"network": {"vcn_cidr": vcn, "subnet_cidr": subnet}}), "c.yaml")


def _ports(n: int) -> list[dict[str, Any]]:
    return [{"protocol": "tcp", "port": 20000 + i, "reason": "test port"} for i in range(n)]


def test_more_than_200_ingress_rules_refused() -> None:
    assert limit("ingress_rules_per_security_list").max == 200
    refused({"extra_ports": _ports(200)}, "extra_ports", "ingress rules", "200", "servicelimits")
    parse_config(merged({"extra_ports": _ports(150)}), "c.yaml")


@pytest.mark.parametrize(("ocpus", "mem", "ok"), [(4, 3.5, False), (2, 1.5, False), (1, 65, False), (2, 130, False), (1, 1, True), (1, 64, True), (2, 12, True)])
def test_a1_memory_per_ocpu(ocpus: float, mem: float, ok: bool) -> None:
    changes = {"instance": {"ocpus": ocpus, "memory_gbs": mem}, "always_free": False}
    if ok:
        parse_config(merged(changes), "c.yaml")
    else:
        refused(changes, "instance.memory_gbs", "memory per OCPU", "computeshapes")


@pytest.mark.parametrize(("changes", "field"), [
    ({"tags": {f"k{i}": "v" for i in range(64)}}, "tags"),
    ({"tags": {"k" * 101: "v"}}, "tags."),
    ({"tags": {"k": "v" * 257}}, "tags.k"),
    ({"description": "d" * 401}, "description"),
])
def test_unverified_limits_say_so(changes: dict[str, Any], field: str) -> None:
    refused(changes, field, "unverified limit")


# ------------------------------------------------------------------ 5: Caddyfile

BAD_EMAILS = ["a`b@x.com", "{$HOME}@x.com", "a@{$HOST}.com", "x@y", "a b@x.com", "a\"b@x.com", "a@x..com", "a..b@x.com",
              "a@-x.com", "a{b}@x.com", "a@x.com\n", "#a@x.com", "a\\@x.com", ".a@x.com", "a@x.c", "a@x_y.com"]
GOOD_EMAILS = ["ops@example.com", "first.last+tag@sub.example.co.kr", "a_b%c@x.io", "A1@EXAMPLE.COM"]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_bad_acme_emails_are_refused(email: str) -> None:
    refused({"tls": {"mode": "acme", "email": email}}, "tls.email")


CADDY_VALUES = ["plain", "two words", 'say "hi"', "back\\slash", "ends\\", "brace {x}", "{http.request.host}", "# not a comment",
                "`tick`", 'q\\"q', "unicode ✓ 한글", "}{", "a\\{b"]


def caddy() -> str:
    path = shutil.which("caddy")
    if path is None:
        pytest.skip("caddy not installed (make system-deps installs Debian's caddy)")
    return path


def adapt(tmp_path: Path, text: str) -> dict[str, Any]:
    f = tmp_path / "Caddyfile"
    f.write_text(text)
    r = subprocess.run([caddy(), "adapt", "--config", str(f), "--adapter", "caddyfile"], capture_output=True, text=True,
                       env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "SECRET": "LEAKED"}, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("email", GOOD_EMAILS)
def test_accepted_emails_reach_caddy_exactly(tmp_path: Path, email: str) -> None:
    config = parse_config(merged({"tls": {"mode": "acme", "email": email}}), "c.yaml")
    text = render_caddyfile(config, hosts={"socket_host": "a.example.com", "livekit_host": "b.example.com"}, http_port=18080, https_port=18443)
    issuers = json.dumps(adapt(tmp_path, text))
    assert json.dumps(email)[1:-1] in issuers


@pytest.mark.parametrize("value", CADDY_VALUES)
def test_caddy_token_round_trips_through_caddy(tmp_path: Path, value: str) -> None:
    """`respond` runs the Replacer: the JSON keeps `\\{`, which Caddy turns back into `{` at request time."""
    doc = adapt(tmp_path, f":18080 {{\n    respond {caddy_token(value)} 200\n}}\n")
    body = doc["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["body"]
    assert body.replace("\\{", "{").replace("\\}", "}") == value


@pytest.mark.parametrize("value", ["{$SECRET}", "x {$HOME} y", "{$SECRET:default}", "line\nbreak", "nul\x00", "`a`\\"])
def test_caddy_token_refuses_what_cannot_be_literal(value: str) -> None:
    with pytest.raises(RenderError):
        caddy_token(value)


def test_env_placeholder_would_leak_unquoted(tmp_path: Path) -> None:
    """The failing case for the refusal above: Caddy expands {$SECRET} inside quotes."""
    doc = adapt(tmp_path, ':18080 {\n    respond "x {$SECRET} y" 200\n}\n')
    assert "LEAKED" in json.dumps(doc)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("field", [("budget", "amount"), ("instance", "ocpus"), ("instance", "memory_gbs"), ("budget", "thresholds")])
def test_non_finite_numbers_are_refused(field: tuple[str, ...], value: float) -> None:
    """YAML's .inf/.nan are floats: before, `budget.amount: .inf` reached the zip."""
    changes: Any = [value, 50.0] if field[-1] == "thresholds" else value
    for part in reversed(field):
        changes = {part: changes}
    refused(changes, ".".join(field), "finite number")


@pytest.mark.parametrize("key", ["", " ", "  "])
def test_empty_tag_keys_are_refused(key: str) -> None:
    refused({"tags": {key: "x"}}, "empty tag key")


# HCL normalizes string literals to Unicode NFC (Terraform and pygohcl alike): text in another
# form would reach the server changed, so it is refused; NFC text of any script is accepted.
@pytest.mark.parametrize(("changes", "field"), [
    ({"tags": {"team": "\U0002f800"}}, "tags.team"),          # CJK compatibility ideograph (NFC: U+4E3D)
    ({"tags": {"team": "e\u0301quipe"}}, "tags.team"),        # decomposed é
    ({"tags": {"\u212b": "x"}}, "tags"),                       # ANGSTROM SIGN as a key (NFC: Å)
    ({"description": "caf\u0065\u0301"}, "description"),
])
def test_text_not_in_nfc_is_refused(changes: dict[str, Any], field: str) -> None:
    refused(changes, field, "normal form C", "did you mean")


@pytest.mark.parametrize("text", ["\u4e3d", "\u00e9quipe", "\u00c5", "café", "팀 공간", "plain"])
def test_nfc_text_is_accepted(text: str) -> None:
    parse_config(merged({"tags": {"team": text}}), "c.yaml")


@pytest.mark.parametrize("text", ["a\x85b", "line\u2028sep", "para\u2029", "nul\x00", "bell\x07", "del\x7f", "csi\x9b"])
def test_control_characters_in_text_are_refused(text: str) -> None:
    refused({"tags": {"team": text}}, "tags.team", "control character")


@pytest.mark.parametrize("text", ["tab\there", "two\nlines", "crlf\r\n"])
def test_tabs_and_line_breaks_are_accepted(text: str) -> None:
    parse_config(merged({"description": text}), "c.yaml")


@pytest.mark.parametrize("char", ["\x85", "\u2028", "\u2029"])
def test_raw_yaml_line_breaks_are_refused_with_their_line(char: str) -> None:
    """YAML reads NEL, LS and PS as line breaks: written raw, the text would arrive changed."""
    with pytest.raises(ConfigError) as info:
        parse_config(f"name: demo\ndescription: a{char}b\n", "c.yaml")
    assert str(info.value).startswith("c.yaml:2: ") and "line break" in str(info.value)
    parse_config('name: demo\ndescription: "a b"\n', "c.yaml")  # the neighbour: accepted
