"""Issue 21: `flowstack preview` of every documented variant is free of the nine defects found
on f81956f, checked on the generated files themselves (the live and rig tests prove what the
files do: tests/emit/test_firewall.py, test_agent_months.py, test_caddy_l4.py, and the enginerig/vmrig
tests run them on a real engine). Each check has a negative control: the f81956f form of the
file is caught.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_server_files import VARIANTS
from variants import LARGEST, make_config

from generator.build.preview import preview_files
from generator.config.load import parse_config
from generator.config.schema import StackConfig
from generator.core.contract import APP_DIR, COMPOSE_FILE
from generator.core.versions import versions

ROOT = Path(__file__).resolve().parents[2]
_L4 = versions()["caddy_l4"]
CADDY = ROOT / ".tools" / f"caddy-l4-{_L4['caddy']}-{_L4['caddy_l4']}" / "caddy"
ALL: dict[str, Any] = {
    **{name: make_config(changes) for name, changes in VARIANTS.items()},
    "largest": parse_config(LARGEST, "largest"),
    "sslip-io": parse_config("name: sslip\nregion: ap-chuncheon-1\n", "sslip-io"),
    "extra-port-from-vcn": make_config({"extra_ports": [{"protocol": "tcp", "port": 9100, "source": "10.0.0.0/16", "reason": "exporter"}]}),
}
F = "files"


def _text(files: dict[str, bytes], path: str) -> str:
    return files.get(F + path, b"").decode("utf-8")


def defects(config: StackConfig, files: dict[str, bytes]) -> list[str]:
    """Which of issue 21's nine defects the generated server files have."""
    found = []
    fw = _text(files, "/usr/local/sbin/flowstack-firewall")
    if 'METADATA_DROP="-d 169.254.169.254/32 -j DROP"' in fw or "docker_rule '-d 169.254.169.254/32 -j DROP'" in fw or "--dport 53 -j RETURN" not in fw:
        found.append("1: containers lose DNS on 169.254.169.254")
    boot = _text(files, "/usr/local/sbin/flowstack-bootstrap")
    if f"--ready {config.tls.mode} " not in boot:
        found.append("2: ready without healthy services and a verified TLS handshake")
    caddy = _text(files, f"{APP_DIR}/Caddyfile") or _text(files, f"{APP_DIR}/caddy.json")
    if config.tls.mode == "acme" and "acme.zerossl.com" not in caddy and config.tls.email:
        found.append("2: no issuer fallback")
    unit = _text(files, "/etc/systemd/system/flowstack.service")
    if "Requires=docker.service" in unit or "down" in unit or "Type=oneshot" not in unit or "RemainAfterExit=yes" not in unit:
        found.append("3: a Docker restart tears the stack down")
    if "tee" in boot:
        found.append("3: the bring-up log has a tee that loses lines")
    agent = json.loads(_text(files, "/etc/flowstack/agent.json"))
    if not agent.get("backoff_cap_seconds") or "iptables-restore --noflush" not in fw:
        found.append("4: no back-off / a firewall that only grows")
    if F + "/etc/systemd/system/flowstack-prune.timer" not in files:
        found.append("5: nothing prunes")
    if config.livekit.turn.via_caddy:
        conf = json.loads(caddy)
        servers = conf["apps"].get("http", {}).get("servers", {})
        if not any(":80" in s["listen"] for s in servers.values()) or "127.0.0.1:" in json.dumps(conf["apps"]["layer4"]).split("sni")[1]:
            found.append("6: layer4 without an http app on :80 / TURN dialled on loopback")
    compose = yaml.safe_load(_text(files, COMPOSE_FILE))
    if "host.docker.internal" not in compose["services"]["socket"]["environment"].get("LIVEKIT_URL", ""):
        found.append("7: the app reaches LiveKit through its public URL")
    if "only from ssh_source_cidr" in fw or any(f"--ctorigdstport {e.port}" not in fw for e in config.extra_ports if str(e.source) != "0.0.0.0/0"):
        found.append("8: rules say more than they do")
    if not compose["services"]["livekit"].get("stop_grace_period"):
        found.append("9: LiveKit is not given time to drain")
    return found


@pytest.mark.parametrize("name", ALL)
def test_every_documented_variant_is_free_of_the_nine_defects(name: str) -> None:
    config = ALL[name]
    assert defects(config, preview_files(config, sample=True)) == []


def _mutate(files: dict[str, bytes], path: str, edit: Callable[[str], str]) -> dict[str, bytes]:
    return {**files, F + path: edit(files[F + path].decode()).encode()}


def test_the_defect_checks_catch_f81956f_forms() -> None:
    """Negative control: each defect check fails on the f81956f form of its file."""
    config = ALL["turn-via-caddy"]
    files = preview_files(config, sample=True)
    unit_main = "[Unit]\nRequires=docker.service\n[Service]\nType=simple\nExecStop=/usr/bin/docker compose down\n"
    cases = {
        "1": _mutate(files, "/usr/local/sbin/flowstack-firewall", lambda t: t.replace("-j RETURN", "-j DROP")),
        "2": _mutate(files, "/usr/local/sbin/flowstack-bootstrap", lambda t: t.replace("--ready ", "--ready-not ")),
        "3": _mutate(files, "/etc/systemd/system/flowstack.service", lambda t: unit_main),
        "4": _mutate(files, "/usr/local/sbin/flowstack-firewall", lambda t: t.replace("iptables-restore --noflush", "iptables -I INPUT")),
        "5": {k: v for k, v in files.items() if not k.endswith("flowstack-prune.timer")},
        "6": _mutate(files, f"{APP_DIR}/caddy.json", lambda t: t.replace('"172.17.0.1:', '"127.0.0.1:')),
        "7": _mutate(files, COMPOSE_FILE, lambda t: t.replace("http://host.docker.internal:7880", "https://space-livekit.flow-coder.com")),
        "8": _mutate(files, "/usr/local/sbin/flowstack-firewall", lambda t: t + "# operator, SSH, only from ssh_source_cidr\n"),
        "9": _mutate(files, COMPOSE_FILE, lambda t: re.sub(r"\n *stop_grace_period: .*", "", t)),
    }
    for item, mutated in cases.items():
        assert any(d.startswith(item + ":") for d in defects(config, mutated)), item


def test_flowstack_unit_survives_docker_restarts() -> None:
    """Item 3: oneshot + RemainAfterExit running `up -d`, Wants= (not Requires=) docker, no ExecStop."""
    unit = _text(preview_files(ALL["reference"], sample=True), "/etc/systemd/system/flowstack.service")
    keys = [ln.split("=", 1) for ln in unit.splitlines() if "=" in ln and not ln.startswith("#")]
    d = dict(keys)
    assert d["Type"] == "oneshot" and d["RemainAfterExit"] == "yes"
    assert d["ExecStart"].endswith("docker-compose.yml up -d --remove-orphans")
    assert "docker.service" in d["Wants"] and "Requires" not in d and "ExecStop" not in d and "Restart" not in d


def _adapt(caddyfile: str, tmp: Path) -> dict[str, Any]:
    path = tmp / "Caddyfile"
    path.write_text(caddyfile)
    r = subprocess.run([str(CADDY), "adapt", "--config", str(path)], capture_output=True, text=True, timeout=60, env={"HOME": str(tmp)})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("email", [None, "ops@flow-coder.com"])
def test_caddy_issuers_lets_encrypt_then_zerossl(email: str | None, tmp_path: Path) -> None:
    """Item 2: Caddy's own adapter reads the generated Caddyfile's issuers as Let's Encrypt, then
    ZeroSSL (with an e-mail: ZeroSSL's ACME account needs it); the layer4 JSON says the same."""
    if not CADDY.exists():
        pytest.skip(f"the layer4 Caddy build is missing: run `make caddy-l4` ({CADDY})")
    tls = {"tls": {"mode": "acme", **({"email": email} if email else {})}}
    files = preview_files(make_config(tls), sample=True)
    issuers = _adapt(_text(files, f"{APP_DIR}/Caddyfile"), tmp_path)["apps"]["tls"]["automation"]["policies"][0]["issuers"]
    want = [{"module": "acme", **({"email": email} if email else {})}]
    if email:
        want.append({"module": "acme", "ca": "https://acme.zerossl.com/v2/DV90", "email": email})
    assert issuers == want
    l4 = make_config({**tls, "domains": {"turn_host": "space-turn.flow-coder.com"}, "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}})
    conf = json.loads(_text(preview_files(l4, sample=True), f"{APP_DIR}/caddy.json"))
    assert conf["apps"]["tls"]["automation"]["policies"][0]["issuers"] == want


@pytest.mark.parametrize("email", [None, "ops@flow-coder.com"])
def test_zip_says_what_the_shared_sslip_limit_means(email: str | None) -> None:
    """Item 2: `zip`/`generate` output for sslip.io names says plainly what the shared Let's
    Encrypt limit means and whether Caddy can fall back to ZeroSSL (f81956f said neither)."""
    from generator.derive.bootnames import auto_domain_lines

    config = parse_config("name: sslip\nregion: ap-chuncheon-1\n" + (f"tls: {{email: {email}}}\n" if email else ""), "sslip")
    (line,) = [ln for ln in auto_domain_lines(config) if "what this means" in ln]
    assert "refuses new sslip.io certificates (HTTP 429) for days" in line and "not `ready` until HTTPS works" in line
    assert ("falls back to ZeroSSL (tls.email is set" in line) == bool(email)
    assert ("set tls.email so Caddy can fall back to ZeroSSL" in line) == (not email)


def test_status_shows_the_certificate_issuer_and_expiry() -> None:
    """Item 2: `status` names the issuer and the expiry date (f81956f: days left only); `doctor`
    already printed both (tests/ops/test_doctor.py)."""
    import datetime as dt

    from generator.ops.status import format_status

    cert = {"issuer": "Let's Encrypt", "subject": "", "names": ["a.example.com"], "not_after": "2026-12-13T10:00:00+00:00",
            "days_left": 6, "valid": True, "error": None}
    text = format_status({"stack": "s", "region": "r", "now": dt.datetime(2026, 12, 7), "last_apply": None,
                          "health": [{"ok": True, "url": "https://a.example.com/health", "status": 200, "certificate": cert}]})
    assert "certificate by Let's Encrypt, expires 2026-12-13 (6 days left)" in text
