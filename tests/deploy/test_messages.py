"""Issue 13.11 and 13.12: messages that say what is really wrong; the client never waits forever.

Real parts: the `oci` SDK against the Resource Manager emulator (a real HTTP server checking
real signatures and the date header, with OCI's 5-minute window). Replaced: OCI itself; the
client's clock is shifted by patching the date the SDK's signer writes (the one place the SDK
reads the clock for a request), which is what a machine with a wrong clock sends.
"""

from __future__ import annotations

import email.utils
import re
import time
from pathlib import Path
from typing import Any

import oci
import pytest
import yaml

from generator.config.load import parse_config
from generator.core.errors import ConfigError, OciConfigError
from generator.deploy import ociauth, results, rm

# End to end: real oci SDK against a real emulator server, including client timeouts. The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "stacks" / "flowspace.yaml").read_text())


def deployer(emulator, **kwargs: Any) -> rm.Deployer:
    config, signer = ociauth.load_oci_config(emulator.config_file, "DEFAULT")
    return rm.Deployer(config, signer, endpoint=emulator.url, retry=results.RetrySettings(api_seconds=2, api_base_sleep=0.1, api_max_sleep=0.2), **kwargs)


@pytest.mark.parametrize("shift", [600, -600, 400, -3600, 86400])
def test_clock_skew_is_reported_as_clock(rm_emulator, monkeypatch: pytest.MonkeyPatch, shift: int) -> None:
    real = email.utils.formatdate
    monkeypatch.setattr(oci.signer.email.utils, "formatdate", lambda *a, usegmt=False, **k: real(time.time() + shift, usegmt=True))
    with pytest.raises(OciConfigError) as info:
        deployer(rm_emulator).find_stack("x", rm_emulator.compartment_id)
    msg = str(info.value)
    # The Date header has whole seconds and the request is in flight for a while: +-1 s.
    m = re.search(r"(\d+) s (ahead of|behind)", msg)
    assert "clock" in msg and m and abs(int(m[1]) - abs(shift)) <= 1, msg
    assert m[2] == ("ahead of" if shift > 0 else "behind"), msg
    assert "fingerprint" not in msg


def test_small_skew_still_works(rm_emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    real = email.utils.formatdate
    monkeypatch.setattr(oci.signer.email.utils, "formatdate", lambda *a, usegmt=False, **k: real(time.time() + 120, usegmt=True))
    assert deployer(rm_emulator).find_stack("x", rm_emulator.compartment_id) is None


def test_bad_key_with_a_good_clock_is_still_a_key_problem(rm_emulator, tmp_path: Path) -> None:
    """The failing case: the clock hint is given only when the clocks disagree."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = tmp_path / "other.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    text = Path(rm_emulator.config_file).read_text()
    cfg = tmp_path / "config"
    cfg.write_text("\n".join(f"key_file={other}" if ln.startswith("key_file") else ln for ln in text.splitlines()) + "\n")
    config, signer = ociauth.load_oci_config(str(cfg), "DEFAULT")
    d = rm.Deployer(config, signer, endpoint=rm_emulator.url, retry=results.RetrySettings(api_seconds=2, api_base_sleep=0.1, api_max_sleep=0.2))
    with pytest.raises(OciConfigError, match="fingerprint") as info:
        d.find_stack("x", rm_emulator.compartment_id)
    assert "clock is" not in str(info.value)


def test_capacity_failure_names_the_options(rm_cli) -> None:
    rm_cli.emulator.set_faults(capacity_fail_ads=[1, 2, 3])
    r = rm_cli("rm-apply", "--auto-approve", first_run=True)
    assert r.exit_code == 5
    first = r.stderr.split("Error: ", 1)[1].splitlines()[0]
    assert "--retry-capacity" in first and "availability_domain_number" in first and "Out of host capacity" in first


def _merge(changes: dict[str, Any]) -> str:
    def merge(a: Any, b: Any) -> Any:
        if isinstance(a, dict) and isinstance(b, dict):
            return {**a, **{k: merge(a.get(k), v) for k, v in b.items()}}
        return b

    return yaml.safe_dump(merge(BASE, changes))


@pytest.mark.parametrize("changes", [
    {"livekit": {"turn": {"tls_port": 5349}}},
    {"livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}},
    {"domains": {"livekit_host": BASE["domains"]["socket_host"]}},
    {"socket": {"image": "ghcr.io/a/b:1"}},
])
def test_section_errors_do_not_dump_the_config(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_merge(changes), "c.yaml")
    msg = str(info.value)
    assert "{'" not in msg and "got {" not in msg, msg


@pytest.mark.parametrize(("key", "suggestion"), [("reasn", "reason"), ("resaon", "reason"), ("protocl", "protocol"),
                                                  ("port_ed", "port_end"), ("sourc", "source"), ("prot", "port")])
def test_misspelt_extra_ports_key_is_unknown_with_did_you_mean(key: str, suggestion: str) -> None:
    port = {"protocol": "tcp", "port": 9000, "reason": "a reason"}
    wrong = {(k if k != suggestion else key): v for k, v in port.items()}
    if suggestion not in port:
        wrong[key] = 1
    with pytest.raises(ConfigError) as info:
        parse_config(_merge({"extra_ports": [wrong]}), "c.yaml")
    msg = str(info.value)
    assert "unknown key" in msg and f'did you mean "{suggestion}"' in msg and "missing" not in msg, msg


def test_409_names_the_stack_once(rm_cli) -> None:
    assert rm_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    rm_cli.emulator.set_faults(running_job={"operation": "APPLY", "seconds": 10})
    r = rm_cli("rm-plan")
    assert r.exit_code == 5, r.output
    msg = r.stderr.split("Error: ", 1)[1]
    stack_id = msg.split("stack ", 1)[1].split(" ", 1)[0]
    assert stack_id.startswith("ocid1.ormstack") and msg.count(stack_id) == 1, msg


@pytest.mark.parametrize("command", ["rm-apply", "rm-status"])
def test_timeout_stops_following_and_says_how_to_resume(rm_emulator_factory, rm_cli_factory, command: str) -> None:
    emulator = rm_emulator_factory(job_seconds=30)
    cli = rm_cli_factory(emulator)
    if command == "rm-apply":
        r = cli("rm-apply", "--auto-approve", "--timeout", "1", first_run=True)
    else:
        cli("rm-plan", "--timeout", "1", first_run=True)
        r = cli("rm-status", "--follow", "--timeout", "1")
    assert r.exit_code == 5, r.output
    msg = r.stderr.split("Error: ", 1)[1]
    assert "stopped following after" in msg and "--timeout" in msg and "keeps running" in msg
    job_id = re.search(r"ocid1\.ormjob[\w.-]+", msg).group(0)  # type: ignore[union-attr]
    assert f"flowstack rm-status {cli.config} {job_id} --follow" in msg.replace("'", "")


def test_default_timeout_is_two_hours() -> None:
    from click.testing import CliRunner

    from generator.cli import cli

    out = CliRunner().invoke(cli, ["rm-apply", "--help"]).output
    assert "--timeout SECONDS" in out and "7200" in out
