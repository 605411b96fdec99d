"""Issue 15: rm-apply shows what changes on the server, end to end.

The real `oci` SDK against the project's Resource Manager emulator (conftest's rm_cli: the
emulator simulates jobs, since no OCI is reachable here; Terraform itself is not run) and
the generator's real zips with their ``bundle/`` folder: deploy v1, then a changed config
(LiveKit image bump + host name + a new secret env value); the old side is the zip the
emulator stored (``get_stack_tf_config``) and the stack's variables. Then a secret
rotation with ``--at``, and the front end's new block from ``flowstack env``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from variants import PINNED_IMAGE, bumped_image

from generator.cli import cli

# End to end: real oci SDK against a real emulator server, several deploys each. The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow

SECRET_ENV = "  secret_env: [API_TOKEN]\n"
OLD_TOKEN, NEW_TOKEN = "tok-OLD-7f3a9c", "tok-NEW-2b8e41"
NEW_IMAGE = bumped_image(6)


def stack_variables(rm_cli) -> dict[str, str]:
    client = rm_cli.emulator.client()
    (stack,) = [s for s in client.list_stacks(compartment_id=rm_cli.emulator.compartment_id).data
                if s.display_name == "flowspace"]
    return client.get_stack(stack.id).data.variables


def front_end_block(rm_cli, config: Path) -> str:
    outputs = rm_cli("rm-outputs", "--json", "--show-sensitive", config=config)
    assert outputs.exit_code == 0, outputs.output
    env = CliRunner().invoke(cli, ["env", "-", "--show-sensitive"], input=outputs.stdout, catch_exceptions=False)
    assert env.exit_code == 0, env.output
    return env.stdout


def test_rm_apply_shows_the_server_diff_then_a_rotation(rm_cli, rm_config) -> None:
    v1 = rm_config(replace={"    NODE_ENV: production\n": "    NODE_ENV: production\n" + SECRET_ENV})
    first = rm_cli("rm-apply", "--auto-approve", "--var", f"socket_secret_api_token={OLD_TOKEN}", first_run=True, config=v1)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("Server: first deploy (no stack, or no APPLY yet): the server is set up from this zip at its first boot.\n")
    before = front_end_block(rm_cli, v1)

    text = v1.read_text().replace("livekit:\n", f"livekit:\n  image: {NEW_IMAGE}\n", 1)
    v2 = v1.with_name("v2.yaml")
    v2.write_text(text.replace("space-livekit.flow-coder.com", "meet-livekit.flow-coder.com"))
    second = rm_cli("rm-apply", "--auto-approve", "--var", f"socket_secret_api_token={NEW_TOKEN}", config=v2)
    assert second.exit_code == 0, second.output
    out = second.stdout
    server = out[: out.index("Restarts: ")]
    assert server.startswith("Server changes (the running bundle -> this zip; secrets masked):\n")
    assert f"\n-    image: {PINNED_IMAGE}\n+    image: {NEW_IMAGE}\n" in server
    assert "\n--- a/opt/flowstack/Caddyfile\n+++ b/opt/flowstack/Caddyfile\n" in server
    assert "\n-space-livekit.flow-coder.com {\n+meet-livekit.flow-coder.com {\n" in server
    assert "\n/opt/flowstack/socket-secrets.env: secret value changed (masked)\n" in out
    assert "\nRestarts: caddy (Caddyfile changed); livekit (docker-compose.yml changed); socket (socket-secrets.env changed)\n" in out
    assert ("\nLiveKit restarts when the server applies the change (within a few minutes): live calls drop. "
            "To wait for a quiet hour, use --at HH:MM (Asia/Seoul).\n") in out
    # The diff comes before the upload and the plan; no secret anywhere.
    assert out.index("Restarts: ") < out.index("Plan: ")
    for shown in (second.stdout, second.stderr, first.stdout, first.stderr):
        assert OLD_TOKEN not in shown and NEW_TOKEN not in shown
    assert stack_variables(rm_cli)["socket_secret_api_token"] == NEW_TOKEN  # it did reach the stack

    # Rotation, applied at a quiet hour.
    rotated = CliRunner().invoke(cli, ["rotate-secret", str(v2)], catch_exceptions=False)
    assert rotated.exit_code == 0, rotated.output
    third = rm_cli("rm-apply", "--auto-approve", "--at", "04:00", config=v2)
    assert third.exit_code == 0, third.output
    lines = third.stdout.splitlines()
    assert "LiveKit API secret: rotated (masked)" in lines
    assert "/opt/flowstack/livekit.yaml: secret value changed (masked)" in lines
    assert "Restarts: livekit (new API secret, livekit.yaml changed)" in lines
    assert "The server applies this change at 04:00 (Asia/Seoul, the server's time zone), not at once." in lines
    assert "LiveKit restarts at 04:00: live calls drop." in lines
    assert "The front end must get the new LiveKit API secret after the apply:" in lines
    assert f"  flowstack rm-outputs {v2} --json --show-sensitive | flowstack env - -o .env.production" in lines
    assert "Variables set: server_apply_at=04:00" in third.stderr
    assert stack_variables(rm_cli)["server_apply_at"] == "04:00"
    after = front_end_block(rm_cli, v2)
    secret = re.compile(r"^LIVEKIT_API_SECRET='([A-Za-z0-9]{20,})'$", re.M)
    assert secret.search(before) and secret.search(after)
    assert secret.search(before).group(1) != secret.search(after).group(1)  # the new block has the new secret
    same = before.replace(secret.search(before).group(1), "").replace("space-livekit", "meet-livekit")
    assert same == after.replace(secret.search(after).group(1), "")  # only the secret (and v2's host) changed
    assert secret.search(after).group(1) not in third.stdout + third.stderr

    # The next apply without --at clears the quiet hour: it would otherwise stick to the stack.
    fourth = rm_cli("rm-apply", "--auto-approve", config=v2)
    assert fourth.exit_code == 0, fourth.output
    assert fourth.stdout.startswith("Server: no server file changes; nothing restarts.\n"
                                    "The quiet hour 04:00 of an earlier --at is cleared: this change applies at once.\n")
    assert "Variables set: server_apply_at=\n" in fourth.stderr
    assert stack_variables(rm_cli)["server_apply_at"] == ""


def test_rm_apply_json_carries_the_server_diff(rm_cli, rm_config) -> None:
    assert rm_cli("rm-apply", "--auto-approve", first_run=True).exit_code == 0
    bumped = rm_config(replace={"livekit:\n": f"livekit:\n  image: {NEW_IMAGE}\n"})
    for _ in range(2):  # rm-plan uploads the zip; the next run still compares with what was APPLIED
        result = rm_cli("rm-plan", "--json", config=bumped)
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        server = json.loads(result.stdout)["server"]
        assert server["restarts"] == ["livekit"] and server["first_deploy"] is False
        assert [f["path"] for f in server["files"]] == ["/opt/flowstack/docker-compose.yml"]
        assert f"+    image: {NEW_IMAGE}" in server["files"][0]["diff"]
    applied = rm_cli("rm-apply", "--auto-approve", config=bumped)
    assert applied.exit_code == 0, applied.output
    assert "\nRestarts: livekit (docker-compose.yml changed)\n" in applied.stdout
    again = rm_cli("rm-plan", config=bumped)
    assert again.stdout.startswith("Server: no server file changes; nothing restarts.\n")


def test_a_stack_without_an_apply_is_a_first_deploy(rm_cli) -> None:
    """rm-plan creates the stack and uploads the zip but gives the server nothing."""
    planned = rm_cli("rm-plan", first_run=True)
    assert planned.exit_code == 0, planned.output
    again = rm_cli("rm-plan")
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("Server: first deploy (no stack, or no APPLY yet): the server is set up from this zip at its first boot.\n")


def test_at_is_checked_before_any_request(rm_cli) -> None:
    rm_cli.emulator.reset_stats()
    for value, hint in (("25:00", ""), ("4:30", ' (did you mean "04:30"?)')):
        result = rm_cli("rm-apply", "--auto-approve", "--at", value, first_run=True)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr == (f"Error: --at: got {value!r}; expected a time of day as HH:MM, 24-hour, in the server's "
                                 f"time zone, e.g. 04:30{hint}\n")
    assert rm_cli.emulator.stats()["total"] == 0
