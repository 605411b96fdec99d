"""Issue 16: a first deploy from nothing but an OCI account.

A config with neither ``domains`` nor ``socket`` validates and zips; its only deploy-time
questions are the SSH key, the SSH source and the compartment; its preview shows the
sslip.io names and the sample app; the outputs derive the names from the instance's IP.
The boot step (flowstack-hostnames) runs here for real against STUN servers on 127.0.0.1
(the public ones cannot be reached from a test) with its DNS cross-check switched off in
its settings (sslip.io's DNS is on the internet): what is replaced is said where.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from compose_spec import PyCompose
from stun_support import StunServer
from test_render import hclfmt  # the tests' one runner of HashiCorp's formatter

from generator.build.pipeline import build
from generator.build.preview import SAMPLE_PUBLIC_IP, preview_files
from generator.cli import cli
from generator.config.load import parse_config
from generator.core.contract import AUTO_FILLED, BOOTSTRAP_SCRIPT
from generator.core.errors import ConfigError
from generator.derive.bootnames import BOOTSTRAP_LINE, HOSTNAMES_ENV, HOSTNAMES_SCRIPT
from generator.derive.model import build_model
from generator.emit.bundle import server_bundle
from generator.emit.cloudinit import apply_template, render_caddyfile, render_cloud_init, sample_values
from generator.emit.render import render_stack
from generator.emit.sampleapp import sample_app_files

ROOT = Path(__file__).resolve().parents[2]
BARE = "name: firstrun\n"


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "firstrun.yaml"
    path.write_text(BARE, encoding="utf-8")
    return path


def test_bare_config_validates_zips_and_asks_only_three_questions(bare: Path) -> None:
    built = build(bare)
    assert built.report.ok, built.report.summary()
    questions = {v.name for v in build_model(built.config).variables if not v.has_default} - set(AUTO_FILLED)
    assert questions == {"ssh_public_key", "ssh_source_cidr"}  # plus the compartment, which RM's form asks (AUTO_FILLED)
    assert "compartment_ocid" in AUTO_FILLED and "socket_host" not in built.files["variables.tf"].decode()
    result = CliRunner().invoke(cli, ["zip", str(bare), "-o", str(bare.parent / "s.zip")])
    assert result.exit_code == 0, result.output
    assert "socket.<public-ip-with-dashes>.sslip.io" in result.output
    assert "not on the Public Suffix List" in result.output and "current size: unverified" in result.output


def test_init_then_zip_with_no_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["init", "stacks/mine.yaml"]).exit_code == 0
    result = CliRunner().invoke(cli, ["zip", "stacks/mine.yaml"])
    assert result.exit_code == 0, result.output
    config = parse_config(Path("stacks/mine.yaml").read_text(), "mine.yaml")
    assert config.domains.auto and config.socket.sample
    questions = {v.name for v in build_model(config).variables if not v.has_default}
    assert questions == {"tenancy_ocid", "compartment_ocid", "ssh_public_key", "ssh_source_cidr"}


def test_outputs_derive_the_names_from_the_instance_ip() -> None:
    files = render_stack(parse_config(BARE))
    outputs = files["outputs.tf"].decode()
    label = '${replace(oci_core_public_ip.server.ip_address, ".", "-")}'
    assert f'value       = "https://socket.{label}.sslip.io"' in outputs
    assert f'value       = "wss://livekit.{label}.sslip.io"' in outputs
    # No cycle: nothing the instance takes (user_data) refers to its own IP.
    main = files["main.tf"].decode()
    user_data = main.split("user_data = base64gzip(templatefile(")[1].split("}))")[0]
    assert "oci_core_instance" not in user_data and "oci_core_public_ip" not in user_data
    assert "oci_core_instance.server.public_ip" not in main


def test_preview_shows_sslip_names_and_the_sample_app(bare: Path) -> None:
    out = bare.parent / "preview"
    result = CliRunner().invoke(cli, ["preview", str(bare), "--sample", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "socket_host: socket.203-0-113-7.sslip.io" in result.output and "built-in sample app" in result.output
    assert (out / "files/opt/flowstack/hostnames.env").read_text().splitlines() == [
        f"PUBLIC_IP={SAMPLE_PUBLIC_IP}", "LIVEKIT_HOST=livekit.203-0-113-7.sslip.io", "SOCKET_HOST=socket.203-0-113-7.sslip.io"]
    for name, data in sample_app_files().items():
        assert (out / "files/opt/flowstack/sample-app" / name).read_bytes() == data
    compose = yaml.safe_load((out / "files/opt/flowstack/docker-compose.yml").read_text())
    assert compose["services"]["socket"]["build"] == {"context": "/opt/flowstack/sample-app"}
    # Bridge network: the app listens on the container's interfaces, published on the host's loopback only.
    assert "HOST" not in compose["services"]["socket"]["environment"]
    assert compose["services"]["socket"]["ports"] == ["127.0.0.1:3001:3001"]
    assert compose["services"]["caddy"]["env_file"] == ["/opt/flowstack/hostnames.env"]


def test_sample_app_travels_in_the_bundle_and_counts_in_the_metadata(bare: Path) -> None:
    """Issue 15: the sample app is part of the config bundle (a new app version is a config
    change applied in place); its text is gzip-compressed with the whole bundle."""
    files = render_stack(parse_config(BARE))
    boot = yaml.safe_load(files["cloud-init.yaml"].decode().replace("#cloud-config\n", ""))["write_files"]
    assert not [e for e in boot if "sample-app" in e["path"]]
    entry = next(e for e in json.loads(files["bundle/manifest.json"])["files"] if e["path"] == "/opt/flowstack/sample-app/server.js")
    assert entry["service"] == "socket-build" and entry["encoding"] == "text"
    assert apply_template(files[entry["source"]].decode(), {}).encode() == sample_app_files()["server.js"]  # no placeholder
    with_app = build(bare).report
    image = bare.parent / "image.yaml"
    image.write_text(BARE + "socket: {image: 'ghcr.io/you/app:1.0'}\n")
    without = build(image).report

    def metadata(report: object) -> int:
        detail = next(r.detail for r in report.results if r.check == "resource manager fit")  # type: ignore[attr-defined]
        return int(detail.split("metadata ~")[1].split(" B")[0].replace(",", ""))

    assert metadata(with_app) > metadata(without) + 5_000  # the app's files are in the measured bundle
    assert metadata(with_app) <= 32_000  # SSH key allowance included


def test_users_image_or_domain_replace_the_defaults() -> None:
    text = BARE + "domains: {socket_host: s.example.com, livekit_host: l.example.com}\nsocket: {image: 'ghcr.io/you/app:1.0'}\n"
    cloud = render_cloud_init(parse_config(text))
    assert "sample-app" not in cloud and "flowstack-hostnames" not in cloud and "{$SOCKET_HOST}" not in cloud
    assert "dns_records" in render_stack(parse_config(text))["outputs.tf"].decode()


@pytest.mark.parametrize(("snippet", "message"), [
    ("domains: {mode: auto, socket_host: a.example.com}\n", "mode auto derives the host names"),
    ("domains: {socket_host: a.example.com}\n", "mode custom needs socket_host and livekit_host"),
])
def test_domain_mode_rules(snippet: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BARE + snippet, "c.yaml")
    assert message in str(info.value) and "domains" in str(info.value)


def test_caddy_reads_the_names_from_the_environment(tmp_path: Path) -> None:
    """Real Caddy: the Caddyfile's {$SOCKET_HOST} sites become the derived names at load.

    (TURN/TLS runs only through layer4 Caddy's caddy.json, filled by the boot step: see below.)"""
    config = parse_config(BARE)
    path = tmp_path / "Caddyfile"
    path.write_text(render_caddyfile(config))
    env = {**os.environ, "SOCKET_HOST": "socket.198-51-100-9.sslip.io", "LIVEKIT_HOST": "livekit.198-51-100-9.sslip.io",
           "TURN_HOST": "turn.198-51-100-9.sslip.io"}
    done = subprocess.run(["caddy", "adapt", "--config", str(path)], env=env, capture_output=True, text=True, check=True)
    routes = json.loads(done.stdout)["apps"]["http"]["servers"]["srv0"]["routes"]
    hosts = sorted(h for r in routes for m in r["match"] for h in m["host"])
    assert hosts == ["livekit.198-51-100-9.sslip.io", "socket.198-51-100-9.sslip.io"]


# --- the boot step, run for real -------------------------------------------------------------


def _boot_step(tmp_path: Path, answers: list[str], tls: bool = True) -> subprocess.CompletedProcess[str]:
    config = parse_config(BARE + ("livekit: {turn: {tls_port: 5349, via_caddy: true}}\n" if tls else ""))
    files = preview_files(config)
    # What the agent writes from the bundle (marks intact), not the preview's simulated boot step.
    written = {f.path: apply_template(f.template, sample_values(config)) for f in server_bundle(config)}
    servers = [StunServer(a) for a in answers]
    settings = json.loads(files["files/etc/flowstack/hostnames.json"])
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "autodomain.py").write_bytes(files["files/usr/local/lib/flowstack/autodomain.py"])
    (tmp_path / "livekit.yaml").write_text(written["/opt/flowstack/livekit.yaml"])
    os.chmod(tmp_path / "livekit.yaml", 0o600)
    # Replaced: the public STUN servers by local ones, the DNS check (sslip.io is on the internet).
    settings.update(lib_dir=str(lib), stun_servers=[{"host": "127.0.0.1", "port": s.port} for s in servers],
                    env_file=str(tmp_path / "hostnames.env"), fill_files=[str(tmp_path / "livekit.yaml")] if tls else [],
                    check_dns=False, attempts=2, retry_seconds=0.1, timeout_seconds=1)
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    script = tmp_path / "flowstack-hostnames"
    script.write_bytes(files["files/usr/local/sbin/flowstack-hostnames"])
    try:
        return subprocess.run([sys.executable, str(script), str(tmp_path / "settings.json")], capture_output=True, text=True, timeout=60)
    finally:
        for s in servers:
            s.close()


def test_boot_step_names_the_server_and_fills_livekit_yaml(tmp_path: Path) -> None:
    done = _boot_step(tmp_path, ["8.8.4.4", "8.8.4.4"])  # an address only inside the STUN answer: no packet goes there
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "hostnames.env").read_text().splitlines() == [
        "PUBLIC_IP=8.8.4.4", "LIVEKIT_HOST=livekit.8-8-4-4.sslip.io", "SOCKET_HOST=socket.8-8-4-4.sslip.io", "TURN_HOST=turn.8-8-4-4.sslip.io"]
    turn = yaml.safe_load((tmp_path / "livekit.yaml").read_text())["turn"]
    assert turn["domain"] == "turn.8-8-4-4.sslip.io"
    assert turn["external_tls"] is True and "cert_file" not in turn  # Caddy terminates TURN/TLS; LiveKit holds no key
    assert oct((tmp_path / "livekit.yaml").stat().st_mode & 0o777) == "0o600"
    assert "__FLOWSTACK_" in (tmp_path / "livekit.yaml.in").read_text()  # pristine copy for a re-run


@pytest.mark.parametrize(("answers", "message"), [
    (["8.8.4.4", "1.1.1.1"], "STUN servers disagree"),
    (["10.0.0.5", "10.0.0.5"], "private address, which Let's Encrypt cannot reach"),
])
def test_boot_step_refuses_a_doubtful_address(tmp_path: Path, answers: list[str], message: str) -> None:
    done = _boot_step(tmp_path, answers, tls=False)
    assert done.returncode != 0 and message in done.stderr
    assert not (tmp_path / "hostnames.env").exists()


def test_env_shows_the_derived_urls(fixtures: Path) -> None:
    """The outputs file is `terraform output -json` of this stack after apply, made with real
    Terraform 1.5.7 against branch tfdouble's provider double (public IP 203.0.113.205 from
    its fake cloud; the random LiveKit secret replaced by a dummy)."""
    result = CliRunner().invoke(cli, ["env", str(fixtures / "outputs_auto_domains.json")])
    assert result.exit_code == 0, result.output
    assert "NEXT_PUBLIC_SOCKET_URL='https://socket.203-0-113-205.sslip.io'" in result.output
    assert "NEXT_PUBLIC_LIVEKIT_URL='wss://livekit.203-0-113-205.sslip.io'" in result.output
    assert "not-a-secret" not in result.output


@pytest.mark.slow
def test_bare_stack_plans_with_real_terraform(tmp_path: Path) -> None:
    """Real Terraform plans the bare stack against the provider double of branch tfdouble
    (OCI itself cannot be reached). That branch is merged separately: until it is, this test
    is skipped; once merged it runs (run by hand with that branch's runner before merging:
    validate, plan and apply succeeded, outputs with socket.203-0-113-205.sslip.io)."""
    runner = pytest.importorskip("generator.tfdouble.runner")
    config = tmp_path / "firstrun.yaml"
    config.write_text(BARE)
    out = tmp_path / "stack"
    assert CliRunner().invoke(cli, ["generate", str(config), "-o", str(out)]).exit_code == 0
    answers = {"tenancy_ocid": "ocid1.tenancy.oc1..aaaa", "compartment_ocid": "ocid1.compartment.oc1..aaaa",
               "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh test",
               "ssh_source_cidr": "198.51.100.7/32"}
    with runner.TerraformRun(out, answers) as run:
        plan = run.plan()
        assert plan.ok, [str(d) for d in plan.errors]
        assert run.apply().ok
        outputs = run.output()
    ip = outputs["public_ip"]["value"]
    assert outputs["NEXT_PUBLIC_SOCKET_URL"]["value"] == f"https://socket.{ip.replace('.', '-')}.sslip.io"


@pytest.mark.parametrize(("exit_code", "continued"), [(1, False), (0, True)])
def test_bootstrap_stops_when_the_names_cannot_be_found(tmp_path: Path, exit_code: int, continued: bool) -> None:
    """The bootstrap's line, run by bash under the bootstrap's own `set -euo pipefail`, with the
    boot step replaced by a stub exiting ``exit_code`` (the real one needs the internet).
    Fails with the earlier ``script && . env`` form: bash's errexit ignores the left of &&."""
    stub, env = tmp_path / "stub", tmp_path / "hostnames.env"
    stub.write_text(f"#!/bin/sh\necho SOCKET_HOST=socket.8-8-4-4.sslip.io > {env}\nexit {exit_code}\n")
    stub.chmod(0o755)
    bootstrap = render_cloud_init(parse_config(BARE))
    entries = yaml.safe_load(bootstrap.replace("#cloud-config\n", ""))["write_files"]
    assert BOOTSTRAP_LINE in next(e["content"] for e in entries if e["path"] == BOOTSTRAP_SCRIPT)
    line = BOOTSTRAP_LINE.replace(HOSTNAMES_SCRIPT, str(stub)).replace(HOSTNAMES_ENV, str(env))
    done = subprocess.run(["bash", "-c", f"set -euo pipefail\n{line}\necho continued\necho \"host $SOCKET_HOST\""], capture_output=True, text=True)
    assert (done.returncode == 0) == continued
    assert ("continued" in done.stdout) == continued
    assert ("host socket.8-8-4-4.sslip.io" in done.stdout) == continued


def test_bare_stacks_server_files_pass_the_real_validators(bare: Path) -> None:
    """The files of a bare stack through the tools that read them (or the closest that run
    here): cloud-init's schema, bash -n and ShellCheck, Python's compiler for the boot step,
    the Compose Specification parser (PyPI compose-spec)."""
    out = bare.parent / "preview"
    assert CliRunner().invoke(cli, ["preview", str(bare), "--sample", "-o", str(out)]).exit_code == 0
    checked = subprocess.run(["cloud-init", "schema", "--config-file", str(out / "cloud-init.yaml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bootstrap = out / "files/usr/local/sbin/flowstack-bootstrap"
    for argv in (["bash", "-n", str(bootstrap)], ["shellcheck", "--shell", "bash", str(bootstrap)],
                 [sys.executable, "-m", "py_compile", str(out / "files/usr/local/sbin/flowstack-hostnames")]):
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    # The crate predates compose's `host-gateway` value of extra_hosts (Docker >= 20.10 resolves
    # it; the enginerig tests run the real engine): an IP stands in for it here.
    PyCompose.from_yaml((out / "files/opt/flowstack/docker-compose.yml").read_text().replace(":host-gateway", ":172.17.0.1")).validate()


def test_bare_stacks_hcl_is_terraform_fmt_identical(tmp_path: Path) -> None:
    """HashiCorp's formatter (hclwrite as WebAssembly, tools/hclfmt.js), as for the reference."""
    files = render_stack(parse_config(BARE + "livekit: {turn: {tls_port: 5349, via_caddy: true}}\n"))
    paths = []
    for name in ("main.tf", "variables.tf", "outputs.tf", "bundle.tf"):
        (tmp_path / name).write_bytes(files[name])
        paths.append(tmp_path / name)
    formatted = hclfmt(ROOT, paths)
    for p in paths:
        assert formatted[str(p)] == p.read_text(), f"{p.name} differs from terraform fmt"
