"""`flowstack env` (front-end .env block from outputs) and `flowstack preview` (what the server gets)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli

SECRET = "Zq8vT1kLmN4pR7sW0yB3dF6hJ9cX2gK5aE8uI1oP4tY"
TF_OUTPUTS = {
    "public_ip": {"value": "203.0.113.10", "sensitive": False, "type": "string"},
    "NEXT_PUBLIC_SOCKET_URL": {"value": "https://space-socket.example.com", "sensitive": False, "type": "string"},
    "NEXT_PUBLIC_LIVEKIT_URL": {"value": "wss://space-livekit.example.com", "sensitive": False, "type": "string"},
    "LIVEKIT_URL": {"value": "https://space-livekit.example.com", "sensitive": False, "type": "string"},
    "LIVEKIT_API_KEY": {"value": "APIFlowspace", "sensitive": False, "type": "string"},
    "LIVEKIT_API_SECRET": {"value": SECRET, "sensitive": True, "type": "string"},
}
RM_OUTPUTS = {
    "items": [
        {"outputName": k, "outputType": "string", "outputValue": v["value"], "isSensitive": v["sensitive"]}
        for k, v in TF_OUTPUTS.items()
    ]
}
EXPECTED = """# Front-end environment from the flowstack stack's outputs (.env.production)
NEXT_PUBLIC_SOCKET_URL='https://space-socket.example.com'
NEXT_PUBLIC_LIVEKIT_URL='wss://space-livekit.example.com'
LIVEKIT_URL='https://space-livekit.example.com'
LIVEKIT_API_KEY='APIFlowspace'
"""


@pytest.mark.parametrize("shape", [TF_OUTPUTS, RM_OUTPUTS], ids=["terraform", "resource-manager"])
def test_env_masks_the_secret_by_default(shape: dict, tmp_path: Path) -> None:
    f = tmp_path / "outputs.json"
    f.write_text(json.dumps(shape))
    r = CliRunner().invoke(cli, ["env", str(f)])
    assert r.exit_code == 0, r.output
    assert r.output == EXPECTED + (
        "# LIVEKIT_API_SECRET is a secret: env prints secrets only when asked, whatever the outputs showed (`rm-outputs --show-sensitive` passes it to env, not to your terminal); run env with --show-sensitive, or -o FILE to write it to a 0600 file\nLIVEKIT_API_SECRET=\n"
    )
    assert SECRET not in r.output
    shown = CliRunner().invoke(cli, ["env", str(f), "--show-sensitive"])
    assert shown.output == EXPECTED + f"LIVEKIT_API_SECRET='{SECRET}'\n"


def test_env_reads_rm_outputs_json(tmp_path: Path) -> None:
    flat = {k: (None if v["sensitive"] else v["value"]) for k, v in TF_OUTPUTS.items()}  # as rm-outputs --json prints it
    f = tmp_path / "outputs.json"
    f.write_text(json.dumps(flat))
    r = CliRunner().invoke(cli, ["env", str(f), "--show-sensitive"])
    assert r.exit_code == 0, r.output
    assert r.output == EXPECTED + (
        "# LIVEKIT_API_SECRET was masked in these outputs: get them with `flowstack rm-outputs CONFIG --json --show-sensitive`\n"
        "LIVEKIT_API_SECRET=\n"
    )
    flat["LIVEKIT_API_SECRET"] = SECRET  # rm-outputs --json --show-sensitive
    f.write_text(json.dumps(flat))
    assert CliRunner().invoke(cli, ["env", str(f), "--show-sensitive"]).output == EXPECTED + f"LIVEKIT_API_SECRET='{SECRET}'\n"
    # Issue 15: the flat map has no sensitive flag; the secret rule masks it unless asked (fails
    # without the rule in env_block: the secret reached the terminal).
    masked = CliRunner().invoke(cli, ["env", "-"], input=json.dumps(flat))
    assert masked.exit_code == 0 and SECRET not in masked.output
    assert masked.output.endswith("# LIVEKIT_API_SECRET is a secret: env prints secrets only when asked, whatever the outputs showed (`rm-outputs --show-sensitive` passes it to env, not to your terminal); run env with --show-sensitive, or -o FILE to write it to a 0600 file\nLIVEKIT_API_SECRET=\n")


def test_env_to_file_is_private(tmp_path: Path) -> None:
    f = tmp_path / "outputs.json"
    f.write_text(json.dumps(TF_OUTPUTS))
    out = tmp_path / ".env.production"
    r = CliRunner().invoke(cli, ["env", str(f), "-o", str(out)])
    assert r.exit_code == 0
    assert SECRET not in r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"LIVEKIT_API_SECRET='{SECRET}'" in out.read_text()
    again = CliRunner().invoke(cli, ["env", str(f), "-o", str(out)])  # its own file: replaced
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("content", ["API_URL=https://mine.example\n", "# my env\nX=1\n", "\x00binary"])
def test_env_never_overwrites_a_file_it_did_not_write(tmp_path: Path, content: str) -> None:
    """Issue 13.1: an existing .env.production with the user's own lines is refused, not replaced."""
    f = tmp_path / "outputs.json"
    f.write_text(json.dumps(TF_OUTPUTS))
    out = tmp_path / ".env.production"
    out.write_text(content)
    r = CliRunner().invoke(cli, ["env", str(f), "-o", str(out)])
    assert r.exit_code != 0 and "is not a file flowstack wrote" in r.output and r.output.count("\n") == 1, r.output
    assert out.read_text() == content


def test_env_rejects_other_json(tmp_path: Path) -> None:
    f = tmp_path / "outputs.json"
    f.write_text('{"hello": 1}')
    r = CliRunner().invoke(cli, ["env", str(f)])
    assert r.exit_code == 1
    assert r.output == (
        "Error: outputs lack NEXT_PUBLIC_SOCKET_URL, NEXT_PUBLIC_LIVEKIT_URL, LIVEKIT_URL, LIVEKIT_API_KEY, "
        "LIVEKIT_API_SECRET: were they made by a flowstack stack?\n"
    )
    f.write_text('[1, 2]')
    r = CliRunner().invoke(cli, ["env", str(f)])
    assert r.output.startswith(f"Error: {f}: not an outputs document;")
    f.write_text("{not json")
    r = CliRunner().invoke(cli, ["env", str(f)])
    assert r.output == f"Error: {f}:1: not JSON (Expecting property name enclosed in double quotes)\n"


def test_preview_writes_every_file_the_server_receives(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "preview"
    r = CliRunner().invoke(cli, ["preview", str(root / "stacks" / "flowspace.yaml"), "--sample", "-o", str(out)])
    assert r.exit_code == 0, r.output
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != ".flowstack-output")
    assert files == [
        "cloud-init.yaml",
        "files/etc/docker/daemon.json",
        "files/etc/flowstack/agent.json",
        "files/etc/systemd/system/flowstack-agent.service",
        "files/etc/systemd/system/flowstack-agent.timer",
        "files/etc/systemd/system/flowstack-bootstrap.service",
        "files/etc/systemd/system/flowstack-prune.service",
        "files/etc/systemd/system/flowstack-prune.timer",
        "files/etc/systemd/system/flowstack.service",
        "files/opt/flowstack/Caddyfile",
        "files/opt/flowstack/docker-compose.yml",
        "files/opt/flowstack/git-credentials",
        "files/opt/flowstack/livekit.yaml",
        "files/opt/flowstack/socket-source.json",
        "files/usr/local/sbin/flowstack-agent",
        "files/usr/local/sbin/flowstack-bootstrap",
        "files/usr/local/sbin/flowstack-firewall",
        "files/usr/local/sbin/flowstack-wait-dns",
    ]
    # As cloud-init and the agent write them: the file holding the LiveKit secret is private, scripts executable.
    assert stat.S_IMODE((out / "files/opt/flowstack/livekit.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "files/opt/flowstack/git-credentials").stat().st_mode) == 0o600  # a private repo's token (issue 22)
    assert stat.S_IMODE((out / "files/usr/local/sbin/flowstack-bootstrap").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "cloud-init.yaml").stat().st_mode) == 0o600
    caddy = (out / "files/opt/flowstack/Caddyfile").read_text()
    assert "space-socket.flow-coder.com {" in caddy and "${" not in caddy
    lk = yaml.safe_load((out / "files/opt/flowstack/livekit.yaml").read_text())
    assert lk["keys"] == {"APIFlowspace": "SampleSecretForPreviewOnly0123456789abcdefXYZ"}
    assert lk["rtc"]["use_external_ip"] is True


def test_preview_with_given_values_and_errors(root: Path, tmp_path: Path) -> None:
    cfg = str(root / "stacks" / "flowspace.yaml")
    r = CliRunner().invoke(cli, ["preview", cfg, "--sample", "--var", "socket_host=chat.example.org", "-o", str(tmp_path / "p")])
    assert r.exit_code == 0
    assert "chat.example.org {" in (tmp_path / "p/files/opt/flowstack/Caddyfile").read_text()
    bad = CliRunner().invoke(cli, ["preview", cfg, "--sample", "--var", "socket_hots=x", "-o", str(tmp_path / "q")])
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: --var socket_hots: not a deploy-time value of this stack; expected one of livekit_api_key,")
    none = CliRunner().invoke(cli, ["preview", cfg, "-o", str(tmp_path / "r")])
    assert none.output.startswith("Error: no value for livekit_api_key, livekit_api_secret,")
    assert not (tmp_path / "q").exists() and not (tmp_path / "r").exists()
