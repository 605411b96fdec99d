"""rm-* commands and `generator.resource_manager`, driven through the real `oci` SDK.

The first group needs no server: broken OCI configs must fail before any request, with
one line each.  The rest run the real SDK over HTTP against the project's Resource
Manager emulator (a subprocess started by the fixtures in conftest.py), with short jobs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator import resource_manager as rm
from generator.cli import cli
from generator.emulator.auth import write_demo_credentials

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaaflowstacktests"


def invoke(*args: str) -> "CliRunner.invoke":
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# --------------------------------------------------------------------------- offline


@pytest.fixture
def creds(tmp_path: Path):
    """A real key pair and OCI config file, generated for this test."""
    return write_demo_credentials(tmp_path / "oci")


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.output
    return lines[-1]


def test_missing_oci_config_file(tmp_path: Path, root: Path) -> None:
    missing = tmp_path / "nope" / "config"
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", missing, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: OCI config file {missing} not found: create it with `oci setup config` or pass --config-file\n"
    )


def test_unknown_profile(creds, root: Path) -> None:
    result = invoke(
        "rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--profile", "DEFALT",
        "--compartment", COMPARTMENT,
    )
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: profile 'DEFALT' not found in {creds.config_file} (did you mean \"DEFAULT\"?)\n"
    )


def test_broken_config_file(tmp_path: Path, root: Path) -> None:
    config = tmp_path / "config"
    config.write_text("user=ocid1.user.oc1..x\n", encoding="utf-8")
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", config, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert error_line(result).startswith(f"Error: OCI config file {config} is not a valid config file: File contains no section headers.")
    assert len(result.stderr.splitlines()) == 1


def test_missing_key_file(creds, root: Path) -> None:
    creds.key_file.unlink()
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: key_file {creds.key_file} of profile DEFAULT in {creds.config_file} does not exist\n"
    )


def test_key_file_that_is_not_a_key(creds, root: Path) -> None:
    creds.key_file.write_text("not a key\n", encoding="utf-8")
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == (
        f"Error: the key {creds.key_file} of profile DEFAULT is not a PEM private key (or its pass_phrase is wrong)\n"
    )


def test_profile_missing_fields(creds, root: Path) -> None:
    text = creds.config_file.read_text(encoding="utf-8")
    creds.config_file.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("fingerprint")) + "\n", encoding="utf-8"
    )
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr == f"Error: OCI config {creds.config_file} [DEFAULT]: fingerprint is missing\n"


def test_missing_compartment(creds, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWSTACK_COMPARTMENT", raising=False)
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file)
    assert result.exit_code == 4
    assert result.stderr == (
        "Error: no compartment: pass --compartment OCID "
        f"(or set compartment_ocid in profile DEFAULT in {creds.config_file})\n"
    )


def test_compartment_that_is_not_an_ocid(creds, root: Path) -> None:
    result = invoke(
        "rm-status", root / "stacks/flowspace.yaml", "--config-file", creds.config_file, "--compartment", "prod"
    )
    assert result.exit_code == 4
    assert result.stderr == (
        "Error: compartment 'prod' is not a compartment OCID (ocid1.compartment.oc1..<id> or the tenancy OCID)\n"
    )


def test_resource_principal_outside_oci(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the resource principal is tried offline: instance principals would call the
    # metadata service, which is not on this machine's loopback.
    for name in ("OCI_RESOURCE_PRINCIPAL_VERSION", "OCI_RESOURCE_PRINCIPAL_RPST", "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"):
        monkeypatch.delenv(name, raising=False)
    result = invoke("rm-status", root / "stacks/flowspace.yaml", "--auth", "resource_principal", "--compartment", COMPARTMENT)
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: resource principal authentication is not available here: ")
    assert len(result.stderr.splitlines()) == 1


def test_bad_var_is_a_usage_error(creds, root: Path) -> None:
    result = invoke("rm-plan", root / "stacks/flowspace.yaml", "--var", "no-equals-sign")
    assert result.exit_code == 2
    assert "Invalid value for '--var'" in result.stderr


def test_plan_summary() -> None:
    assert rm.plan_summary(["x", "Plan: 7 to add, 1 to change, 2 to destroy.", "y"]) == (7, 1, 2)
    assert rm.plan_summary(["Plan: 1 to import, 3 to add, 0 to change, 0 to destroy."]) == (3, 0, 0)
    assert rm.plan_summary(["No changes. Your infrastructure matches the configuration."]) == (0, 0, 0)
    assert rm.plan_summary(["Terraform has been successfully initialized!"]) is None


def test_variables_parsing_and_masking() -> None:
    assert rm.parse_variables(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    masked = rm.mask_variables({"livekit_api_secret": "s3cr3t", "region": "ap-chuncheon-1", "db_password": "p"})
    assert masked == {"db_password": rm.MASK, "livekit_api_secret": rm.MASK, "region": "ap-chuncheon-1"}
