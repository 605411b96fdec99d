"""`flowstack oci-setup` (issue 22): the API signing key and the config profile rm-apply reads.

Checked with real tools: the key is read back by `cryptography` and by `openssl` (its
fingerprint computed by openssl, as Oracle's docs compute it), and the profile is loaded
and validated by the real `oci` SDK, then used to sign requests the emulator verifies
(the emulator replaces OCI's identity service: the console upload cannot be done here).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import oci
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from generator.cli import cli

USER = "ocid1.user.oc1..aaaaaaaaexampleuser1234567"
TENANCY = "ocid1.tenancy.oc1..aaaaaaaaexampletenancy12345"


def setup(home: Path, *extra: str):
    args = ["oci-setup", "--user", USER, "--tenancy", TENANCY, "--region", "ap-chuncheon-1", *extra]
    return CliRunner().invoke(cli, args, env={"HOME": str(home)})


def test_writes_key_and_profile_with_the_right_modes(tmp_path: Path) -> None:
    r = setup(tmp_path)
    assert r.exit_code == 0, r.output
    oci_dir = tmp_path / ".oci"
    key = oci_dir / "flowstack_api_key_default.pem"
    public = oci_dir / "flowstack_api_key_default_public.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE((oci_dir / "config").stat().st_mode) == 0o600
    assert stat.S_IMODE(oci_dir.stat().st_mode) == 0o700
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    assert private.key_size == 2048 and key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    config = oci.config.from_file(str(oci_dir / "config"), "DEFAULT")
    oci.config.validate_config(config)
    assert config["user"] == USER and config["tenancy"] == TENANCY and config["compartment_ocid"] == TENANCY
    assert config["key_file"] == str(key)
    # The printout: the fingerprint, the console steps and the public key to paste; never the private key.
    assert f"fingerprint {config['fingerprint']}" in r.output and "Add API key" in r.output
    assert public.read_text().strip().splitlines()[1] in r.output
    assert key.read_text().splitlines()[1] not in r.output
    if shutil.which("openssl"):
        der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"], capture_output=True, check=True).stdout
        md5 = subprocess.run(["openssl", "md5", "-c"], input=der, capture_output=True, check=True).stdout.decode()
        assert md5.strip().split()[-1] == config["fingerprint"]


def test_refuses_an_existing_profile_and_changes_nothing(tmp_path: Path) -> None:
    oci_dir = tmp_path / ".oci"
    oci_dir.mkdir()
    before = "[DEFAULT]\nuser=ocid1.user.oc1..old\n"
    (oci_dir / "config").write_text(before)
    r = setup(tmp_path)
    assert r.exit_code == 4
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("Error: OCI config ") and "already has a [DEFAULT] profile" in r.stderr
    assert (oci_dir / "config").read_text() == before and sorted(os.listdir(oci_dir)) == ["config"]
    # Another profile is added after the first, which stays as it was.
    r = setup(tmp_path, "--profile", "flowstack")
    assert r.exit_code == 0, r.output
    text = (oci_dir / "config").read_text()
    assert text.startswith(before) and "\n[flowstack]\n" in text
    assert oci.config.from_file(str(oci_dir / "config"), "flowstack")["user"] == USER
    # An existing key file is not overwritten either.
    key = tmp_path / "mine.pem"
    key.write_text("not mine to replace")
    r = setup(tmp_path, "--profile", "third", "--key-file", str(key))
    assert r.exit_code == 4 and "already exists; nothing written" in r.stderr and key.read_text() == "not mine to replace"
    assert "[third]" not in (oci_dir / "config").read_text()


@pytest.mark.parametrize("args, says", [
    (["--user", "ocid1.tenancy.oc1..aaaaaaaaexampletenancy12345"], "--user 'ocid1.tenancy"),
    (["--region", "ap-chunchon-1"], 'did you mean "ap-chuncheon-1"'),
    (["--profile", "a b"], "--profile 'a b'"),
])
def test_bad_input_is_one_error_line(tmp_path: Path, args: list[str], says: str) -> None:
    base = {"--user": USER, "--tenancy": TENANCY, "--region": "ap-chuncheon-1"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["oci-setup", *[x for kv in base.items() for x in kv], *([] if "--profile" in base else [])]
    r = CliRunner().invoke(cli, argv, env={"HOME": str(tmp_path)})
    assert r.exit_code == 4 and r.stderr.count("\n") == 1 and says in r.stderr, r.output
    assert not (tmp_path / ".oci").exists()


@pytest.mark.slow
def test_the_profile_signs_requests_the_emulator_accepts(tmp_path: Path, rm_emulator_factory, rm_cli_factory) -> None:
    """rm-status with the written profile: signed with the new key, verified by the emulator."""
    assert setup(tmp_path).exit_code == 0
    public = tmp_path / ".oci" / "flowstack_api_key_default_public.pem"
    em = rm_emulator_factory(extra_public_keys=(str(public),))
    config = Path(__file__).resolve().parents[2] / "stacks" / "flowspace.yaml"
    r = CliRunner().invoke(cli, ["rm-status", str(config), "--config-file", str(tmp_path / ".oci" / "config"),
                                 "--endpoint", em.url])
    # Signed and accepted: the emulator answers that the stack does not exist (not 401).
    assert "NotAuthenticated" not in r.output and "no stack" in r.output.lower(), r.output
