"""Issue 6 parts 2-4: the opt-in budget and traffic alarm (alerts.tf).

Every config is written to tmp_path and goes through `load_config`, as a user's would.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import hcl2
import pygohcl
import pytest
import yaml
from click.testing import CliRunner

from generator.checks import provider_schema
from generator.checks.external import checkov_executable
from generator.checks.notes import SLACK_UNVERIFIED
from generator.checks.report import PASS
from generator.checks.run import validate_files
from generator.cli import cli
from generator.config.load import load_config
from generator.core import limits
from generator.core.errors import ConfigError
from generator.emit.render import STACK_FILES, render_stack

ROOT = Path(__file__).resolve().parents[2]
# A date with both the verified (2021) and the reported (2026-06) limit readings in force.
ON = dt.date(2026, 7, 1)
ODD_RECIPIENT = "o'neil+${x}%{y}@example.co.kr"  # valid e-mail atoms that HCL must escape

BASE = {
    "name": "alertdemo",
    "domains": {"socket_host": "socket.example.com", "livekit_host": "livekit.example.com"},
    "socket": {"image": "ghcr.io/example/socket:1.0.0"},
}
BUDGET = {"enabled": True, "amount": 1, "thresholds": [50, 80.5, 100], "recipients": ["ops@example.com", ODD_RECIPIENT]}
ALARM = {"enabled": True, "emails": ["ops@example.com", "oncall@example.com"]}
ALARM_SLACK = {**ALARM, "slack": True}
MODES = {
    "budget": {"budget": BUDGET},
    "alarm": {"traffic_alarm": ALARM},
    "alarm+slack": {"traffic_alarm": ALARM_SLACK},
    "both": {"budget": BUDGET, "traffic_alarm": ALARM_SLACK},
}


def write_config(tmp_path: Path, extra: dict, name: str = "stack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({**BASE, **extra}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def render(tmp_path: Path, extra: dict, on: dt.date = ON) -> dict[str, str]:
    files = render_stack(load_config(write_config(tmp_path, extra)), on)
    return {name: data.decode("utf-8") for name, data in files.items()}


def hclfmt(paths: list[Path]) -> dict[str, str]:
    """HashiCorp's hclwrite.Format (what `terraform fmt` uses), via tools/hclfmt.js."""
    out = subprocess.run(["node", str(ROOT / "tools" / "hclfmt.js"), *map(str, paths)], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def blocks(text: str, kind: str = "resource") -> dict[tuple[str, str], dict]:
    """(type, name) -> body of every resource/data block, from python-hcl2 (quotes stripped)."""
    out = {}
    for entry in hcl2.loads(text).get(kind, []):
        for typ, named in entry.items():
            for name, body in named.items():
                out[(typ.strip('"'), name.strip('"'))] = body
    return out


def pace_bytes(reading: limits.LimitReading, percent: int) -> int:
    """What the alarm threshold must be: the monthly allowance in decimal bytes / 30.44 days."""
    return int(Decimal(str(reading.outbound_tb_per_month)) * 10**12 / Decimal("30.44") * percent / 100)


# ---------------------------------------------------------------------------
# Off by default


def test_both_off_means_no_alerts_file_and_no_alert_variables(tmp_path: Path) -> None:
    files = render(tmp_path, {})
    assert [name for name in files if not name.startswith("bundle")] == list(STACK_FILES)
    assert "alerts.tf" not in files
    for name in ("variables.tf", "schema.yaml"):
        for var in ("budget_amount", "budget_alert_recipients", "alarm_emails", "alarm_slack_url"):
            assert var not in files[name], (name, var)
    groups = [g["title"] for g in yaml.safe_load(files["schema.yaml"])["variableGroups"]]
    assert "Cost alerts" not in groups
    assert "oci_budget" not in files["main.tf"] and "oci_monitoring" not in files["main.tf"]


def test_disabled_sections_with_values_still_render_nothing(tmp_path: Path) -> None:
    files = render(tmp_path, {"budget": {**BUDGET, "enabled": False}, "traffic_alarm": {**ALARM_SLACK, "enabled": False}})
    assert [name for name in files if not name.startswith("bundle")] == list(STACK_FILES)


# ---------------------------------------------------------------------------
# Enabled: the file, its syntax, its layout, every check


@pytest.mark.parametrize("mode", sorted(MODES))
def test_alerts_file_renders_after_outputs(mode: str, tmp_path: Path) -> None:
    files = render(tmp_path, MODES[mode])
    order = [name for name in files if not name.startswith("bundle")]  # the config bundle's files come last
    assert order == ["main.tf", "variables.tf", "outputs.tf", "alerts.tf", "cloud-init.yaml", "schema.yaml"]
    assert list(files)[len(order)] == "bundle.tf"


@pytest.mark.parametrize("mode", sorted(MODES))
def test_alerts_file_parses_with_both_parsers(mode: str, tmp_path: Path) -> None:
    text = render(tmp_path, MODES[mode])["alerts.tf"]
    assert hcl2.loads(text)["resource"]
    assert pygohcl.loads(text)["resource"]


def test_alerts_file_is_in_terraform_fmt_layout(tmp_path: Path) -> None:
    paths = []
    for mode, extra in MODES.items():
        d = tmp_path / mode.replace("+", "_")
        d.mkdir()
        files = render(d, extra)
        for name in ("alerts.tf", "variables.tf"):
            (d / name).write_text(files[name], encoding="utf-8")
            paths.append(d / name)
    formatted = hclfmt(paths)
    for path in paths:
        assert path.read_text(encoding="utf-8") == formatted[str(path)], f"{path} differs from hclwrite.Format"


@pytest.mark.parametrize("mode", sorted(MODES))
def test_stack_with_alerts_passes_every_internal_check(mode: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, MODES[mode]))
    report = validate_files(render_stack(config, ON), config, on=ON)
    # The one expected note: a Discord /slack webhook through OCI is unverified (issue 10 item 13).
    assert [(r.check, r.status) for r in report.results if r.status != PASS and r.check != "deploy notes"] == [], report.to_dict()
    (notes,) = [r for r in report.results if r.check == "deploy notes"]
    slack_note = SLACK_UNVERIFIED in notes.problems
    assert slack_note == config.traffic_alarm.slack, notes
    assert {r.check for r in report.results} >= {"syntax", "references", "provider schema", "resource manager fit", "secrets"}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_alerts_file_matches_the_provider_schema(mode: str, tmp_path: Path) -> None:
    text = render(tmp_path, MODES[mode])["alerts.tf"]
    assert provider_schema.check({"alerts.tf": hcl2.loads(text)}) == []


def test_provider_schema_check_would_catch_a_wrong_alerts_argument(tmp_path: Path) -> None:
    text = render(tmp_path, MODES["both"])["alerts.tf"].replace("threshold_type = ", "threshold_kind = ", 1)
    problems = provider_schema.check({"alerts.tf": hcl2.loads(text)})
    assert {(p.address, p.code) for p in problems} >= {("oci_budget_alert_rule.at_50", "unknown-argument"), ("oci_budget_alert_rule.at_50", "missing-required")}


def test_references_check_catches_an_unused_alert_variable(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, MODES["both"]))
    files = render_stack(config, ON)
    files["alerts.tf"] = files["alerts.tf"].replace(b"var.budget_alert_recipients", b'"ops@example.com"')
    refs = next(r for r in validate_files(files, config, on=ON).results if r.check == "references")
    assert refs.status == "fail"
    assert any("'budget_alert_recipients' is declared but never used" in p for p in refs.problems)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_alert_resource_has_a_comment_saying_why(mode: str, tmp_path: Path) -> None:
    lines = render(tmp_path, MODES[mode])["alerts.tf"].splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith(("resource ", "data "))]
    assert heads
    for i in heads:
        assert lines[i - 1].startswith("# "), f"no comment above: {lines[i]}"


# slow: runs the real Checkov
@pytest.mark.slow
def test_checkov_finds_no_failures_with_everything_on(tmp_path: Path) -> None:
    exe = checkov_executable()
    assert exe, "Checkov not found: run `make checkov` (it lives in .venv-checkov)"
    stack = tmp_path / "stack"
    stack.mkdir()
    for name, text in render(tmp_path, MODES["both"]).items():
        (stack / name).parent.mkdir(parents=True, exist_ok=True)  # bundle/...
        (stack / name).write_text(text, encoding="utf-8")
    out = subprocess.run([exe, "-d", str(stack), "--framework", "terraform", "--skip-download", "-o", "json", "--quiet", "--compact"],
                         capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c["check_id"] + " " + c["resource"] for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert failed == []
    assert sum(r["summary"]["resource_count"] for r in reports) >= 15  # it did read alerts.tf, not an empty dir
    assert sum(r["summary"]["parsing_errors"] for r in reports) == 0


# ---------------------------------------------------------------------------
# What lands in the HCL


def test_budget_targets_the_stack_compartment_from_the_tenancy(tmp_path: Path) -> None:
    res = blocks(render(tmp_path, MODES["budget"])["alerts.tf"])
    budget = res[("oci_budget_budget", "stack")]
    assert budget["compartment_id"] == "${var.tenancy_ocid}"
    assert budget["target_type"] == '"COMPARTMENT"'
    assert budget["targets"] == ["${var.compartment_ocid}"]
    assert budget["amount"] == "${var.budget_amount}"
    assert budget["reset_period"] == '"MONTHLY"'
    assert not any(t.startswith(("oci_ons", "oci_monitoring")) for t, _ in res)


def test_thresholds_land_exactly_one_rule_each(tmp_path: Path) -> None:
    res = blocks(render(tmp_path, MODES["budget"])["alerts.tf"])
    rules = {name: body for (typ, name), body in res.items() if typ == "oci_budget_alert_rule"}
    assert {name: body["threshold"] for name, body in rules.items()} == {"at_50": 50, "at_80_5": 80.5, "at_100": 100}
    for body in rules.values():
        assert body["threshold_type"] == '"PERCENTAGE"'
        assert body["type"] == '"ACTUAL"'
        assert body["recipients"] == "${var.budget_alert_recipients}"
        assert body["budget_id"] == "${oci_budget_budget.stack.id}"


def test_default_thresholds_are_80_and_100_of_one_dollar(tmp_path: Path) -> None:
    files = render(tmp_path, {"budget": {"enabled": True, "recipients": ["ops@example.com"]}})
    rules = {name: body["threshold"] for (typ, name), body in blocks(files["alerts.tf"]).items() if typ == "oci_budget_alert_rule"}
    assert rules == {"at_80": 80, "at_100": 100}
    assert pygohcl.loads(files["variables.tf"])["variable"]["budget_amount"]["default"] == 1


def test_recipients_land_exactly_with_odd_characters_escaped(tmp_path: Path) -> None:
    files = render(tmp_path, MODES["both"])
    wanted = f"ops@example.com, {ODD_RECIPIENT}"
    # Written with HCL's template escapes, read back by HashiCorp's parser as the exact text.
    assert 'default     = "ops@example.com, o\'neil+$${x}%%{y}@example.co.kr"' in files["variables.tf"]
    assert pygohcl.loads(files["variables.tf"])["variable"]["budget_alert_recipients"]["default"] == wanted
    assert yaml.safe_load(files["schema.yaml"])["variables"]["budget_alert_recipients"]["default"] == wanted
    assert pygohcl.loads(files["variables.tf"])["variable"]["alarm_emails"]["default"] == "ops@example.com, oncall@example.com"


def test_recipients_left_out_become_a_required_form_field(tmp_path: Path) -> None:
    files = render(tmp_path, {"budget": {"enabled": True}, "traffic_alarm": {"enabled": True}})
    variables = pygohcl.loads(files["variables.tf"])["variable"]
    assert "default" not in variables["budget_alert_recipients"] and "default" not in variables["alarm_emails"]
    form = yaml.safe_load(files["schema.yaml"])["variables"]
    assert form["budget_alert_recipients"]["required"] is True and form["alarm_emails"]["required"] is True


def test_alarm_emails_each_get_a_subscription(tmp_path: Path) -> None:
    res = blocks(render(tmp_path, MODES["alarm"])["alerts.tf"])
    email = res[("oci_ons_subscription", "email")]
    assert email["for_each"] == '${toset(compact([for e in split(",", var.alarm_emails) : trimspace(e)]))}'
    assert email["protocol"] == '"EMAIL"' and email["endpoint"] == "${each.value}"
    assert email["topic_id"] == "${oci_ons_notification_topic.alerts.id}"
    assert ("oci_ons_subscription", "slack") not in res
    assert not any(t.startswith("oci_budget") for t, _ in res)


def test_slack_subscription_only_with_a_webhook_and_never_its_url(tmp_path: Path) -> None:
    files = render(tmp_path, MODES["alarm+slack"])
    slack = blocks(files["alerts.tf"])[("oci_ons_subscription", "slack")]
    assert slack["protocol"] == '"SLACK"' and slack["endpoint"] == "${var.alarm_slack_url}"
    variables = pygohcl.loads(files["variables.tf"])["variable"]
    assert variables["alarm_slack_url"]["sensitive"] is True and "default" not in variables["alarm_slack_url"]
    # The webhook is a secret: asked at deploy time and checked by Terraform, never in the files.
    assert "length(var.alarm_slack_url) <= 512" in files["variables.tf"]


def test_topic_name_derives_from_the_stack_name(tmp_path: Path) -> None:
    files = render(tmp_path, MODES["alarm"])
    topic = blocks(files["alerts.tf"])[("oci_ons_notification_topic", "alerts")]
    assert topic["name"] == '"${local.name}-alerts-${substr(sha1(var.compartment_ocid), 0, 8)}"'
    assert 'name = "alertdemo"' in files["main.tf"]


def test_alarm_watches_the_server_vnic_outbound_bytes(tmp_path: Path) -> None:
    files = render(tmp_path, MODES["alarm"])
    text = files["alerts.tf"]
    # One VNIC look-up in main.tf serves the alarm and the reserved public IP.
    vnic = blocks(files["main.tf"], "data")[("oci_core_vnic_attachments", "server")]
    assert vnic["instance_id"] == "${oci_core_instance.server.id}"
    assert 'data "oci_core_vnic_attachments"' not in text
    alarms = {name: body for (typ, name), body in blocks(text).items() if typ == "oci_monitoring_alarm"}
    assert set(alarms) == {"traffic_warning", "traffic_critical"}
    for body in alarms.values():
        assert body["namespace"] == '"oci_vcn"'
        assert body["metric_compartment_id"] == "${var.compartment_ocid}"
        assert body["destinations"] == ["${oci_ons_notification_topic.alerts.id}"]
        assert body["is_enabled"] is True
    assert alarms["traffic_warning"]["severity"] == '"WARNING"' and alarms["traffic_critical"]["severity"] == '"CRITICAL"'
    query = pygohcl.loads(text)["resource"]["oci_monitoring_alarm"]["traffic_warning"]["query"]
    assert re.fullmatch(r'VnicToNetworkBytes\[1d\]\{resourceId = ".+"\}\.sum\(\) > \d+', query), query


def test_traffic_thresholds_are_80_and_100_percent_of_the_dated_allowance(tmp_path: Path) -> None:
    text = render(tmp_path, MODES["alarm"])["alerts.tf"]
    verified = next(r for r in limits.in_force(ON) if r.verified)
    warning, critical = pace_bytes(verified, 80), pace_bytes(verified, 100)
    assert f"}}.sum() > {warning}\"" in text and f"}}.sum() > {critical}\"" in text
    assert 262_000_000_000 < warning < 263_000_000_000  # 10 TB / 30.44 days * 80 %: about 262.8 GB a day
    assert f'reading "{verified.id}", in force\n# from {verified.effective}, verified' in text


def test_traffic_thresholds_follow_a_new_limit_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = limits.readings()
    cut = limits.LimitReading(**{**old[0].__dict__, "id": "halved-2027", "effective": dt.date(2027, 1, 1), "verified": False,
                                 "source": "test", "outbound_tb_per_month": 5})
    monkeypatch.setattr(limits, "readings", lambda: (*old, cut))
    before = render(tmp_path, MODES["alarm"], on=dt.date(2026, 12, 31))["alerts.tf"]
    after = render(tmp_path, MODES["alarm"], on=dt.date(2027, 2, 1))["alerts.tf"]
    assert f"> {pace_bytes(old[0], 100)}\"" in before and "halved-2027" not in before
    assert f"> {pace_bytes(cut, 100)}\"" in after and f"> {pace_bytes(cut, 80)}\"" in after
    assert 'reading "halved-2027", in force\n# from 2027-01-01, reported, not verified' in after


# ---------------------------------------------------------------------------
# Bad values are refused, naming the field


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ({"budget": {"enabled": True, "thresholds": [80, 0]}}, "budget.thresholds", "thresholds[1] = 0 is not a percentage"),
        ({"budget": {"enabled": True, "thresholds": [500]}}, "budget.thresholds", "thresholds[0] = 500 is not a percentage"),
        ({"budget": {"enabled": True, "thresholds": [-5]}}, "budget.thresholds", "thresholds[0] = -5 is not a percentage"),
        ({"budget": {"enabled": True, "thresholds": [80.125]}}, "budget.thresholds", "two decimals at most"),
        ({"budget": {"enabled": True, "thresholds": []}}, "budget.thresholds", "at least one percentage"),
        ({"budget": {"enabled": True, "thresholds": [80, 80]}}, "budget.thresholds", "listed twice"),
        ({"budget": {"enabled": True, "recipients": ["not-an-email"]}}, "budget.recipients", "recipients[0] = 'not-an-email' is not an e-mail"),
        ({"budget": {"enabled": True, "recipients": ["ok@example.com", "a@b, c@example.com"]}}, "budget.recipients", "recipients[1]"),
        ({"budget": {"enabled": True, "recipients": ["a@localhost"]}}, "budget.recipients", "is not an e-mail"),
        ({"budget": {"enabled": True, "amount": 0}}, "budget.amount", "out of range"),
        ({"traffic_alarm": {"enabled": True, "emails": ["ops@example.com", "x y@example.com"]}}, "traffic_alarm.emails", "emails[1] = 'x y@example.com'"),
        ({"traffic_alarm": {"enabled": True, "emails": ['"quoted"@example.com']}}, "traffic_alarm.emails", "is not an e-mail"),
        # The webhook URL is a secret: the config may only switch Slack on; the URL is asked at deploy time.
        ({"traffic_alarm": {"enabled": True, "slack_url": "https://hooks.slack.com/services/T/B/x"}}, "traffic_alarm.slack_url", 'did you mean "slack"?'),
    ],
)
def test_bad_alert_values_are_refused_naming_the_field(extra: dict, field: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, extra))
    assert info.value.field == field
    assert says in str(info.value)
    assert f": {field}: " in str(info.value)


def test_cli_refuses_a_bad_threshold_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, {"budget": {"enabled": True, "thresholds": [80, 500]}})
    result = CliRunner().invoke(cli, ["generate", "stack.yaml", "-o", "out"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: stack.yaml:") and "budget.thresholds: thresholds[1] = 500" in result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------
# Through the CLI


def test_cli_validate_generate_and_reproducible_zip_with_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, MODES["both"])
    runner = CliRunner()
    checked = runner.invoke(cli, ["validate", "stack.yaml", "--no-external", "--json"])
    assert checked.exit_code == 0, checked.output
    results = {c["check"]: c["status"] for c in json.loads(checked.output)["checks"]}
    assert results["provider schema"] == results["references"] == results["syntax"] == PASS

    generated = runner.invoke(cli, ["generate", "stack.yaml", "-o", "build"])
    assert generated.exit_code == 0, generated.output
    assert (tmp_path / "build" / "alerts.tf").is_file()
    assert runner.invoke(cli, ["validate", "build", "--no-external"]).exit_code == 0  # the directory, as a hand-edited copy would be

    first = runner.invoke(cli, ["zip", "stack.yaml", "-o", "a.zip"])
    second = runner.invoke(cli, ["zip", "stack.yaml", "-o", "b.zip"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        assert z.namelist()[:7] == ["main.tf", "variables.tf", "outputs.tf", "alerts.tf", "cloud-init.yaml", "schema.yaml", "bundle.tf"]
