"""`flowstack validate` on broken stacks: each failure mode is caught with a message that points at the fix."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Callable

import pytest
import yaml
from click.testing import CliRunner

from generator.checks.report import FAIL, PASS, WARN, Report
from generator.checks.run import read_stack_dir, validate_files, validate_path
from generator.cli import cli
from generator.config.load import load_config, parse_config
from generator.emit.render import render_stack

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BEFORE_CUT = dt.date(2026, 1, 1)  # only the verified 4 OCPU / 24 GB reading is in force
AFTER_CUT = dt.date(2026, 11, 26)  # the reported 2 / 12 reading applies too


@pytest.fixture
def stack(root: Path, tmp_path: Path) -> Path:
    """The reference stack written to a directory, ready to be broken by hand."""
    files = render_stack(load_config(root / "stacks" / "flowspace.yaml"))
    d = tmp_path / "stack"
    d.mkdir()
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)  # bundle/...
        (d / name).write_bytes(data)
    return d


def result(report: Report, check: str):
    return next(r for r in report.results if r.check == check)


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def remove_ingress_rule(main: Path, proto: str, port: int) -> None:
    text = main.read_text()
    pattern = re.compile(r"\n  ingress_security_rules \{\n(?:(?!\n  \}).)*?%s_options \{\n      min = %d\n(?:(?!\n  \}).)*?\n  \}\n" % (proto, port), re.S)
    new, n = pattern.subn("\n", text)
    assert n == 1
    main.write_text(new)


def remove_icmp_rule(main: Path) -> None:
    text = main.read_text()
    new, n = re.subn(r"\n  ingress_security_rules \{\n(?:(?!\n  \}).)*?icmp_options(?:(?!\n  \}).)*?\n  \}\n", "\n", text, flags=re.S)
    assert n == 1
    main.write_text(new)


def add_public_rule(main: Path, port: int, port_end: int | None = None, proto: str = "tcp") -> None:
    rule = (
        "  ingress_security_rules {\n"
        f'    protocol = "{ {"tcp": 6, "udp": 17}[proto]}"\n    source   = "0.0.0.0/0"\n\n'
        f"    {proto}_options {{\n      min = {port}\n      max = {port_end or port}\n    }}\n  }}\n"
    )
    edit(main, "  egress_security_rules {", rule + "\n  egress_security_rules {")


def test_reference_stack_passes(stack: Path) -> None:
    report = validate_path(stack, external=False, on=BEFORE_CUT)
    assert report.ok, report.summary()
    # The one note: the reference config keeps the example app repository, so its URL is a
    # required deploy-time answer (issue 10 item 12), and validate says so.
    assert {r.status for r in report.results if r.check != "deploy notes"} == {PASS}
    notes = result(report, "deploy notes")
    assert notes.status == "warn" and "socket_git_url has no default" in notes.problems[0]


def test_seed_main_tf_semicolons() -> None:
    report = validate_path(FIXTURES / "seed", external=False)
    syntax = result(report, "syntax")
    assert syntax.status == FAIL
    assert 'main.tf: HashiCorp parser: line 73, column 27: Invalid character; The ";" character is not valid.' in syntax.problems[0]
    assert result(report, "references").status == "skip"


# Each broken stack: (how to break it, the check that must fail, the text that points at the fix).
BREAKS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "security list missing 7881/tcp": (
        lambda d: remove_ingress_rule(d / "main.tf", "tcp", 7881),
        "port policy", "security list: 7881/tcp from the internet (0.0.0.0/0) is missing (LiveKit: ICE over TCP",
    ),
    "7880 open to the internet": (
        lambda d: add_public_rule(d / "main.tf", 7880),
        "port policy", "security list: 7880/tcp is open to the internet (0.0.0.0/0) but is only reached through Caddy on the host; remove the rule",
    ),
    "3001 open to the internet": (
        lambda d: add_public_rule(d / "main.tf", 3001),
        "port policy", "security list: 3001/tcp is open to the internet (0.0.0.0/0) but is only reached through Caddy on the host; remove the rule",
    ),
    "SSH open to the internet": (
        lambda d: edit(d / "main.tf", "source      = var.ssh_source_cidr", 'source      = "0.0.0.0/0"'),
        "port policy", "security list: SSH (22/tcp) is open to the internet (0.0.0.0/0); use source = var.ssh_source_cidr",
    ),
    # Older stacks opened it: the check says why it is not needed (ports.py, the LiveKit rig).
    "TURN relay range open to the internet": (
        lambda d: add_public_rule(d / "main.tf", 30000, 40000, "udp"),
        "port policy", "security list: 30000-40000/udp is open to the internet (0.0.0.0/0) but is LiveKit's TURN relay range, "
        "which needs no inbound rule (only replies to the relay's own packets arrive there); remove the rule",
    ),
    "TURN relay range open in the host firewall": (
        lambda d: edit(d / "bundle/usr/local/sbin/flowstack-firewall", "add '-p udp -m udp --dport 3478 -j ACCEPT'\n",
                       "add '-p udp -m udp --dport 3478 -j ACCEPT'\nadd '-p udp -m udp --dport 30000:40000 -j ACCEPT'\n"),
        "port policy", "host firewall: 30000-40000/udp from the internet (0.0.0.0/0) is opened but not in the policy (LiveKit's TURN relay range, which needs no inbound rule",
    ),
    "path MTU discovery not allowed": (
        lambda d: remove_icmp_rule(d / "main.tf"),
        "port policy", "security list: type 3 code 4/icmp from the internet (0.0.0.0/0) is missing (network: path MTU discovery",
    ),
    "host firewall missing a port": (
        lambda d: edit(d / "bundle/usr/local/sbin/flowstack-firewall", "add '-p udp -m udp --dport 3478 -j ACCEPT'\n", ""),
        "port policy", "host firewall: 3478/udp from the internet (0.0.0.0/0) is not opened before OCI's REJECT rule",
    ),
    "turn.tcp_port in livekit.yaml": (
        lambda d: edit(d / "bundle/livekit.yaml", "  udp_port: 3478\n", "  udp_port: 3478\n  tcp_port: 3478\n"),
        "livekit settings", "livekit.yaml: turn.tcp_port is not a LiveKit setting (TURN over TCP is turn.tls_port",
    ),
    "memory_in_gb instead of memory_in_gbs": (
        lambda d: edit(d / "main.tf", "    memory_in_gbs = var.instance_memory_gbs", "    memory_in_gb  = var.instance_memory_gbs"),
        "provider schema", 'memory_in_gbs',
    ),
    "shape_config written as an attribute": (
        lambda d: edit(d / "main.tf", "  shape_config {\n", "  shape_config = {\n"),
        "provider schema", "shape_config",
    ),
    "undeclared variable": (
        lambda d: edit(d / "main.tf", 'display_name        = "${local.name}-server"', "display_name        = var.server_name"),
        "references", "main.tf:", 
    ),
    "templatefile placeholder with no value": (
        lambda d: edit(d / "cloud-init.yaml", "final_message: 'flowstack:", "final_message: '${acme_email} flowstack:"),
        "references", "cloud-init.yaml: placeholder ${acme_email} has no value in templatefile() in main.tf",
    ),
    "LiveKit secret written into the zip": (
        lambda d: edit(d / "bundle/livekit.yaml", "'${livekit_api_secret}'", "Xk2V9wq7ZPmB3nR8tY4uJ6hL1sD5fG0aQ"),
        "secrets", "bundle/livekit.yaml: /opt/flowstack/livekit.yaml holds a literal secret for LiveKit key '${livekit_api_key}'; use the ${livekit_api_secret} placeholder",
    ),
    "private key in the stack": (
        lambda d: (d / "origin-key.pem").write_text("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"),
        "secrets", "origin-key.pem: contains a private key block",
    ),
    "schema.yaml variable missing from variables.tf": (
        lambda d: edit(d / "schema.yaml", "variables:\n  tenancy_ocid:", "variables:\n  tenancy_ocidd:\n    type: string\n  tenancy_ocid:"),
        "resource manager fit", "schema.yaml: variable 'tenancy_ocidd' is not in variables.tf (did you mean \"tenancy_ocid\"?)",
    ),
}


# Breaks that rightly trip a second check too.
ALSO_FAILS = {
    "LiveKit secret written into the zip": ["references"],  # templatefile() passes a secret nothing uses now
    "SSH open to the internet": ["references"],  # ssh_source_cidr is declared but no longer used
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_broken_stack_is_caught(case: str, stack: Path) -> None:
    breaker, check, text = BREAKS[case]
    breaker(stack)
    report = validate_path(stack, external=False, on=BEFORE_CUT)
    r = result(report, check)
    assert r.status == FAIL, (case, r)
    assert any(text in p for p in r.problems), r.problems
    # Only the broken aspect fails: the message points at one fix.
    others = [x.check for x in report.results if x.status == FAIL and x.check != check]
    assert others == ALSO_FAILS.get(case, []), others


def test_undeclared_variable_message(stack: Path) -> None:
    BREAKS["undeclared variable"][0](stack)
    r = result(validate_path(stack, external=False), "references")
    assert any(p.startswith("main.tf:") and "var.server_name is not declared" in p and "add a variable block" in p for p in r.problems), r.problems


def test_memory_in_gb_suggests_memory_in_gbs(stack: Path) -> None:
    BREAKS["memory_in_gb instead of memory_in_gbs"][0](stack)
    r = result(validate_path(stack, external=False), "provider schema")
    assert any("memory_in_gb" in p and 'did you mean "memory_in_gbs"' in p for p in r.problems), r.problems


def test_secret_from_environment_is_caught(stack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_SECRET", "s3cr3t-value-from-env-123")
    edit(stack / "bundle/docker-compose.yml", "      NODE_ENV: production\n", "      NODE_ENV: production\n      SOMETHING: s3cr3t-value-from-env-123\n")
    r = result(validate_path(stack, external=False), "secrets")
    assert r.status == FAIL
    assert "bundle/docker-compose.yml: contains the value of the environment variable LIVEKIT_API_SECRET" in r.problems


def _sized(root: Path, ocpus: int, mem: int, always_free: bool = True) -> str:
    data = yaml.safe_load((root / "stacks" / "flowspace.yaml").read_text())
    data["instance"].update(ocpus=ocpus, memory_gbs=mem)
    data["always_free"] = always_free
    return yaml.safe_dump(data)


def test_4_ocpu_24_gb_warns_under_reduced_limit(root: Path) -> None:
    config = parse_config(_sized(root, 4, 24))
    before = validate_files(render_stack(config, BEFORE_CUT), config, on=BEFORE_CUT)
    assert result(before, "always free").status == PASS
    after = validate_files(render_stack(config, AFTER_CUT), config, on=AFTER_CUT)
    r = result(after, "always free")
    assert r.status == WARN and after.ok
    assert r.problems == [
        "reported, not verified: 4 OCPU > 2, 24 GB > 12 GB under the Always Free limit from 2026-06-15 (Reported, not verified); "
        "running all month would cost about $26.98/month (A1 prices as of 2026-11-26); lower instance.ocpus / instance.memory_gbs "
        "(e.g. 2 / 12) or set always_free: false"
    ]


def test_zip_of_4_ocpu_24_gb_warns_and_plans(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over only the reported limit: the zip is written, the warning is shown, and the deploy-time
    check follows the verified limit, so the stack's own defaults pass it (Terraform could plan)."""
    import hcl2

    monkeypatch.chdir(tmp_path)
    Path("big.yaml").write_text(_sized(root, 4, 24))
    r = CliRunner().invoke(cli, ["zip", "big.yaml", "-o", "big.zip"])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith("Warning: always free: reported, not verified: 4 OCPU > 2, 24 GB > 12 GB")
    config = parse_config(_sized(root, 4, 24))
    variables = {k.strip('"'): v for d in hcl2.loads(render_stack(config, AFTER_CUT)["variables.tf"].decode())["variable"] for k, v in d.items()}
    assert variables["instance_ocpus"]["default"] == 4
    assert variables["instance_ocpus"]["validation"][0]["condition"] == "${var.instance_ocpus >= 1 && var.instance_ocpus <= 4}"
    assert variables["instance_memory_gbs"]["validation"][0]["condition"] == "${var.instance_memory_gbs >= 1 && var.instance_memory_gbs <= 24}"


def test_over_verified_limit_fails_unless_paid_allowed(root: Path) -> None:
    config = parse_config(_sized(root, 8, 48))
    files = render_stack(config, BEFORE_CUT)
    r = result(validate_files(files, config, on=BEFORE_CUT), "always free")
    assert r.status == FAIL
    assert "8 OCPU > 4, 48 GB > 24 GB" in r.problems[0] and "$" in r.problems[0]
    assert result(validate_files(files, config, on=BEFORE_CUT, allow_paid=True), "always free").status == WARN
    paid = parse_config(_sized(root, 8, 48, always_free=False))
    assert result(validate_files(render_stack(paid, BEFORE_CUT), paid, on=BEFORE_CUT), "always free").status == WARN


def test_zip_refuses_a_stack_that_fails(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("big.yaml").write_text(_sized(root, 8, 48))
    r = CliRunner().invoke(cli, ["zip", "big.yaml"])
    assert r.exit_code == 3
    assert r.output.startswith("Error: stack failed 1 check(s): always free. First problem: 8 OCPU > 4, 48 GB > 24 GB")
    assert not Path("dist").exists()
    assert CliRunner().invoke(cli, ["zip", "big.yaml", "--allow-paid"]).exit_code == 0


def test_cli_table_json_and_exit_codes(stack: Path) -> None:
    ok = CliRunner().invoke(cli, ["validate", str(stack), "--no-external"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[0].split() == ["check", "result", "detail"]
    BREAKS["security list missing 7881/tcp"][0](stack)
    bad = CliRunner().invoke(cli, ["validate", str(stack), "--no-external", "--json"])
    assert bad.exit_code == 3
    data = json.loads(bad.output)
    assert data["ok"] is False
    assert [c["status"] for c in data["checks"] if c["check"] == "port policy"] == ["fail"]
    table = CliRunner().invoke(cli, ["validate", str(stack), "--no-external"])
    assert table.exit_code == 3
    assert "Error: stack failed 1 check(s): port policy." in table.output


def test_external_rows_say_not_installed(stack: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no terraform, no checkov on PATH
    monkeypatch.setenv("FLOWSTACK_CHECKOV", str(tmp_path / "none"))
    import generator.checks.external as v
    import generator.tfdouble.binary as b

    monkeypatch.setattr(v, "checkov_executable", lambda: None)
    monkeypatch.setattr(b, "TOOLS_DIR", tmp_path)  # nor the repository's .tools/ build
    monkeypatch.setattr(b.find_terraform, "__defaults__", (None, tmp_path))
    report = validate_files(read_stack_dir(stack), None, external=True)
    rows = {r.check: r for r in report.results}
    assert rows["terraform"].status == "skip" and "make terraform" in rows["terraform"].detail
    assert rows["checkov"].status == "skip" and "not installed" in rows["checkov"].detail
    assert report.ok


# slow: runs the real Checkov
@pytest.mark.slow
def test_checkov_reports_no_failures(stack: Path) -> None:
    from generator.checks.external import checkov_executable, external_checkov

    if checkov_executable() is None:
        pytest.fail("Checkov is not installed: run `make checkov` (make test does)")
    r = external_checkov(read_stack_dir(stack))
    assert r.status == PASS, r.problems
    assert r.detail.startswith("0 failed")
