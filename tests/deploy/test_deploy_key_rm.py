"""A deploy with the deploy key (issue 22 item 1b) through rm-apply, on the emulator running real Terraform.

Replaced: OCI Resource Manager by flowstack's emulator (it runs real Terraform against the
provider double, tests/conftest.py's rm_emulator_factory), because OCI cannot be reached here.
Real: the `flowstack deploy-key` CLI making the key, rm-apply reading it with
``--var socket_git_ssh_key=@FILE`` (base64, as the console form's upload passes a file), the
zip, the plan and apply job logs and the terminal output, all searched for the private key.
"""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli

ROOT = Path(__file__).resolve().parents[2]
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh me"


@pytest.mark.slow
def test_the_deploy_key_stays_out_of_the_zip_the_job_logs_and_the_terminal(rm_emulator_factory, rm_cli_factory, tmp_path: Path) -> None:
    made = CliRunner().invoke(cli, ["deploy-key", "flowspace", "--dir", str(tmp_path / "keys")])
    assert made.exit_code == 0, made.output
    private = tmp_path / "keys" / "id_ed25519"
    pem = private.read_text()
    body = "".join(pem.strip().splitlines()[1:-1])
    b64 = base64.b64encode(private.read_bytes()).decode()

    em = rm_emulator_factory(terraform=True)
    cfg = tmp_path / "private.yaml"
    reference = (ROOT / "stacks" / "flowspace.yaml").read_text()
    cfg.write_text(reference.replace("https://github.com/your-repo/flow_metaverse.git", "git@github.com:you/private-app.git"))
    rm = rm_cli_factory(em, cfg)
    # A bad file path: one Error line, nothing sent.
    missing = rm("rm-apply", "--auto-approve", "--var", f"ssh_public_key={KEY}", "--var", "ssh_source_cidr=203.0.113.7/32",
                 "--var", f"socket_git_ssh_key=@{tmp_path / 'nope'}")
    assert missing.exit_code == 2 and "cannot read the file" in missing.output
    first = rm("rm-apply", "--auto-approve", "--var", f"ssh_public_key={KEY}", "--var", "ssh_source_cidr=203.0.113.7/32",
               "--var", f"socket_git_ssh_key=@{private}")
    assert first.exit_code == 0, first.output
    assert "socket_git_ssh_key=********" in first.stderr
    stack = next(s for s in em.client().list_stacks(compartment_id=em.compartment_id).data if s.display_name == "flowspace")
    assert em.client().get_stack(stack.id).data.variables["socket_git_ssh_key"] == b64  # sent, as the form's upload would
    # A second deploy that clears the key: the server diff names the key file, never its bytes.
    again = rm("rm-apply", "--auto-approve", "--var", "socket_git_ssh_key=")
    assert again.exit_code == 0, again.output
    assert "/opt/flowstack/git-ssh-key" in again.output, again.output
    logs = rm("rm-logs")
    zipped = tmp_path / "private.zip"
    assert CliRunner().invoke(cli, ["zip", str(cfg), "-o", str(zipped)]).exit_code == 0
    with zipfile.ZipFile(zipped) as z:
        zip_text = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    assert "git-ssh-key" in zip_text and "github.com ssh-ed25519" in zip_text  # the route is in the zip; the key is not
    seen = {"first rm-apply": first.output, "second rm-apply": again.output, "job log": logs.output, "zip": zip_text,
            "emulator log": em.log_file.read_text() if em.log_file.exists() else ""}
    for where, text in seen.items():
        for secret in (body[:40], b64[:60], "PRIVATE KEY-----\n"):
            assert secret not in text, f"the private key leaked into {where}"
