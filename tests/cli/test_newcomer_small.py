"""Issue 22's small frictions, each shown failing on f81956f.

* every command's ``--help`` carries an example (``cost --help`` had none);
* ``make stack-zip`` installs flowstack without the test and media extras (an 861 MB
  ``.venv`` just to build a zip); the test targets still install them;
* status prints human timestamps (not ``2026-12-07 13:02:18.324000+00:00``);
* status's messages name only options it has (it said "pass --ip"; status has no --ip),
  and a failed health check makes it exit 1 (it exited 0);
* right after ``rm-apply`` against the emulator, ``status`` finds the server without a
  hand-written metrics file (it said "no instance ... run rm-apply first");
* ``rm-outputs`` after ``rm-destroy`` refuses (it printed the old outputs with rc 0).

Replaced: OCI by `flowstack emulator` (real oci SDK, signed requests); the health probes
connect to a loopback port nothing listens on (no traffic leaves the machine).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.ops.status import format_status, human_time

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_help_has_an_example() -> None:
    runner = CliRunner()
    assert isinstance(cli, click.Group)
    missing = []
    for name in sorted(cli.commands):
        r = runner.invoke(cli, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        if "Example" not in r.output or f"flowstack {name}" not in r.output:
            missing.append(name)
    assert missing == []
    cost = runner.invoke(cli, ["cost", "--help"]).output
    assert re.search(r"flowstack cost stacks/\S+\.yaml --spaces \d+", cost)


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is what the README's commands run")
def test_stack_zip_installs_no_extras_and_the_tests_do(tmp_path: Path) -> None:
    """`make -n` (what make would run) on a copy of the Makefile in a directory without a .venv."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)

    def planned(target: str) -> list[str]:
        out = subprocess.run(["make", "-n", target], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
        return [line for line in out.splitlines() if "pip install" in line and "--upgrade pip" not in line]

    zip_installs = planned("stack-zip")
    assert zip_installs and all("[" not in line for line in zip_installs), zip_installs
    assert any("'.[test,media]'" in line for line in planned(".venv/.installed"))
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test-fast", "test-slow", "lint"):
        assert re.search(rf"^{target}: \$\(VENV\)/\.installed\b(?!-)", makefile, re.M), target


def test_status_times_are_for_people() -> None:
    now = dt.datetime(2026, 12, 7, 16, 5, tzinfo=dt.timezone.utc)
    finished = dt.datetime(2026, 12, 7, 13, 2, 18, 324000, tzinfo=dt.timezone.utc)
    text = format_status({"stack": "s", "region": "r", "now": now, "problems": [],
                          "last_apply": {"state": "SUCCEEDED", "job_id": "j", "time_finished": finished}})
    assert "finished 2026-12-07 13:02 UTC (3 h ago)" in text and "+00:00" not in text and ".324" not in text
    assert human_time(None) == "-" and human_time("2026-12-01T10:00:00Z") == "2026-12-01 10:00 UTC"
    assert human_time(now - dt.timedelta(minutes=4), now).endswith("(4 min ago)")
    assert human_time(now - dt.timedelta(days=3), now).endswith("(3 days ago)")


def _status(em, config: Path, *extra: str):
    argv = ["status", str(config), "--config-file", str(em.config_file), "--compartment", em.compartment_id,
            "--endpoint", em.url, *extra]
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def _starter(tmp_path: Path) -> Path:
    cfg = tmp_path / "stacks" / "mystack.yaml"
    assert CliRunner().invoke(cli, ["init", str(cfg)]).exit_code == 0
    return cfg


@pytest.mark.slow
@pytest.mark.parametrize("terraform", [False, True], ids=["simulated", "terraform"])
def test_status_finds_the_server_right_after_rm_apply(rm_emulator_factory, rm_cli_factory, tmp_path: Path, terraform: bool) -> None:
    em = rm_emulator_factory(terraform=terraform)
    cfg = _starter(tmp_path)
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh me"
    applied = rm_cli_factory(em, cfg)("rm-apply", "--auto-approve", "--json", "--var", f"ssh_public_key={key}",
                                      "--var", "ssh_source_cidr=203.0.113.7/32")
    assert applied.exit_code == 0, applied.output
    public_ip = json.loads(applied.stdout)["outputs"]["public_ip"]
    r = _status(em, cfg, "--no-health", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["problems"] == []
    assert report["instance"]["display_name"] == "mystack-server" and report["instance"]["public_ip"] == public_ip
    assert report["instance"]["lifecycle_state"] == "RUNNING" and report["instance"]["ocpus"] == 2
    text = _status(em, cfg, "--no-health").stdout
    assert re.search(r"last apply: SUCCEEDED job \S+ finished \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+ min ago\)", text), text
    # After rm-destroy the server is gone again, and rm-outputs says so instead of printing the old outputs.
    assert rm_cli_factory(em, cfg)("rm-destroy", "--yes").exit_code == 0
    gone = _status(em, cfg, "--no-health", "--json")
    assert gone.exit_code == 1 and "no instance named 'mystack-server'" in json.loads(gone.stdout)["problems"][0]
    outputs = rm_cli_factory(em, cfg)("rm-outputs")
    assert outputs.exit_code != 0 and outputs.stdout == ""
    assert outputs.stderr.startswith("Error: stack 'mystack': DESTROY job ") and "rm-apply" in outputs.stderr
    assert public_ip not in outputs.stderr


@pytest.mark.slow
def test_status_health_messages_and_exit_codes(rm_emulator, tmp_path: Path) -> None:
    import status_seed

    cfg = _starter(tmp_path)
    # No instance: the health line says why there is nothing to probe, naming no option status lacks.
    r = _status(rm_emulator, cfg)
    assert r.exit_code == 1
    assert "--ip" not in r.output and "no instance was found, so its sslip.io names" in r.output
    # A running server whose HTTPS does not answer: a FAIL health row alone makes status exit 1.
    spec = status_seed.seed(dt.datetime.now(dt.timezone.utc), cpu=35, memory=45, gb_per_hour=4)
    for inst in spec["instances"]:
        inst["displayName"], inst["publicIp"] = "mystack-server", "203.0.113.7"
    for series in spec["series"]:
        series["instance"] = "mystack-server"
    rm_emulator._admin("POST", "/_emulator/metrics", spec)
    # 127.0.0.1:443 in this test's view: nothing listens there, so the probes fail fast, on loopback.
    hosts = ["socket.203-0-113-7.sslip.io", "livekit.203-0-113-7.sslip.io"]
    resolve = [a for h in hosts for a in ("--resolve", f"{h}=127.0.0.1")]
    healthy = _status(rm_emulator, cfg, "--no-health", "--json")
    assert healthy.exit_code == 0, healthy.output
    failing = _status(rm_emulator, cfg, *resolve, "--timeout", "1")
    data = failing.stdout
    assert "health:     FAIL https://socket.203-0-113-7.sslip.io/health" in data, data
    assert json.loads(_status(rm_emulator, cfg, *resolve, "--timeout", "1", "--json").stdout)["problems"] == []
    assert failing.exit_code == 1
    assert "Exit codes: 0 all read and every health check passed" in CliRunner().invoke(cli, ["status", "--help"]).output
