"""Issue 15: rm-apply's server diff (generator/deploy/serverdiff.py) on ``{name: bytes}`` maps of stack zips.

The zips here are real renders of real configs with the generator's ``bundle/`` folder; the
first test also runs on a ``bundle/`` written independently to DAY2.md's format 1 (each server
file a Terraform template, the manifest naming path, source, mode, encoding and service). The
end-to-end test against the emulator is in test_rm_server_diff.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from variants import PINNED_IMAGE, bumped_image

from generator.build.pipeline import build
from generator.config.load import parse_config
from generator.core.contract import APP_DIR, COMPOSE_FILE, FIREWALL_SCRIPT, LIVEKIT_CONFIG, PLACEHOLDER_RE
from generator.core.errors import InvalidOption
from generator.core.hcl import template_escape
from generator.deploy.serverdiff import ServerDiff, compose_services_changed, diff_bundles, read_zip
from generator.deploy.workflow import Prepared, check_apply_at, server_lines
from generator.emit.cloudinit import server_files
from generator.emit.render import render_stack

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (ROOT / "stacks" / "flowspace.yaml").read_text(encoding="utf-8")
SERVICE = {COMPOSE_FILE: "compose", LIVEKIT_CONFIG: "livekit", f"{APP_DIR}/Caddyfile": "caddy",
           f"{APP_DIR}/caddy.json": "caddy", f"{APP_DIR}/socket-secrets.env": "socket", FIREWALL_SCRIPT: "firewall"}
SECRET_ENV = "  secret_env: [API_TOKEN]\n"
OLD_TOKEN, NEW_TOKEN = "tok-OLD-7f3a9c", "tok-NEW-2b8e41"


def format_bundle(text: str) -> dict[str, bytes]:
    """A stack zip's files (``bundle/`` included), as the generator renders them."""
    return dict(render_stack(parse_config(text)))


def day2_format_bundle(text: str) -> dict[str, bytes]:
    """The same zip with ``bundle/`` written independently to DAY2.md's format (compose,
    livekit.yaml, Caddyfile, secrets env, firewall script): the diff reads the format, not
    one generator's habits."""
    config = parse_config(text)
    files = {k: v for k, v in render_stack(config).items() if not k.startswith("bundle/")}
    entries = []
    for f in server_files(config):
        if f.path not in SERVICE:
            continue
        source = f"bundle/{f.path.rsplit('/', 1)[-1]}"
        files[source] = PLACEHOLDER_RE.sub(lambda m: "${" + m.group(1) + "}", template_escape(f.content)).encode()
        entries.append({"path": f.path, "source": source, "mode": f.permissions,
                        "encoding": "b64" if f.b64 else "text", "service": SERVICE[f.path]})
    files["bundle/manifest.json"] = json.dumps({"format": 1, "files": entries}, sort_keys=True).encode()
    return files


def with_secret_env(text: str) -> str:
    return text.replace("  env:\n    NODE_ENV: production\n", "  env:\n    NODE_ENV: production\n" + SECRET_ENV, 1)


def changed(text: str, *, image: str | None = None, host: str | None = None, version: int | None = None) -> str:
    extra = ""
    if image:
        extra += f"  image: {image}\n"
    if version:
        extra += f"  api_secret_version: {version}\n"
    text = text.replace("livekit:\n", "livekit:\n" + extra, 1)
    if host:
        text = text.replace("space-livekit.flow-coder.com", host)
    return text


VARS = {"socket_git_url": "https://github.com/flow-coder/flow_metaverse.git"}


def everything(diff: ServerDiff) -> str:
    return "\n".join(diff.lines()) + json.dumps(diff.as_json())


@pytest.mark.parametrize("zip_files", [format_bundle, day2_format_bundle])
def test_image_bump_host_name_and_secret_env_value(zip_files) -> None:
    """The DAY2 example: LiveKit image bump + host name + a new secret env value."""
    old_text = with_secret_env(REFERENCE)
    new_text = changed(old_text, image=bumped_image(6), host="meet-livekit.flow-coder.com")
    diff = diff_bundles(zip_files(old_text), {**VARS, "socket_secret_api_token": OLD_TOKEN},
                        zip_files(new_text), {**VARS, "socket_secret_api_token": NEW_TOKEN})
    lines = diff.lines()
    assert lines[0] == "Server changes (the running bundle -> this zip; secrets masked):"
    text = "\n".join(lines)
    assert f"--- a{COMPOSE_FILE}\n+++ b{COMPOSE_FILE}\n" in text
    assert f"\n-    image: {PINNED_IMAGE}\n+    image: {bumped_image(6)}\n" in text
    assert f'--- a{APP_DIR}/Caddyfile\n' in text
    assert '\n-space-livekit.flow-coder.com {\n+meet-livekit.flow-coder.com {\n' in text
    assert f"{APP_DIR}/socket-secrets.env: secret value changed (masked)" in text
    assert lines[-2] == ("Restarts: caddy (Caddyfile changed); livekit (docker-compose.yml changed); "
                         "socket (socket-secrets.env changed)")
    assert lines[-1] == LIVEKIT_DRAINS
    assert diff.livekit_restarts and not diff.rotated
    # Secrets: neither value anywhere, and the secrets file is masked, not decoded.
    assert OLD_TOKEN not in everything(diff) and NEW_TOKEN not in everything(diff)
    secrets_change = next(f for f in diff.files if f.path.endswith("socket-secrets.env"))
    assert secrets_change.kind == "secret" and secrets_change.diff == []
    assert [f.path for f in diff.files] == [f"{APP_DIR}/Caddyfile", COMPOSE_FILE, f"{APP_DIR}/socket-secrets.env"]


# Issue 21 item 9: the diff says LiveKit drains first, and for how long (f81956f said nothing).
LIVEKIT_DRAINS = ("LiveKit drains first: SIGTERM, rooms in progress keep running up to 300 s (livekit.drain_seconds) before it is stopped; new rooms wait until it is back")


def test_the_drain_bound_follows_the_config() -> None:
    """A change of livekit.drain_seconds changes the compose file (stop_grace_period) and the text."""
    slower = REFERENCE.replace("livekit:\n", "livekit:\n  drain_seconds: 900\n", 1)
    diff = diff_bundles(format_bundle(REFERENCE), VARS, format_bundle(slower), VARS)
    assert "-    stop_grace_period: 300s" in diff.lines() and "+    stop_grace_period: 900s" in diff.lines()
    assert diff.lines()[-1].startswith("LiveKit drains first: SIGTERM, rooms in progress keep running up to 900 s")


def test_an_unchanged_secret_is_not_called_changed() -> None:
    """livekit.yaml holds the generated secret; a log level change must not say the secret changed."""
    louder = REFERENCE.replace("livekit:\n", "livekit:\n  log_level: debug\n", 1)
    diff = diff_bundles(format_bundle(REFERENCE), VARS, format_bundle(louder), VARS)
    (change,) = diff.files
    assert change.path == LIVEKIT_CONFIG and change.kind == "changed" and change.secrets == []
    assert "-  level: info" in diff.lines() and "+  level: debug" in diff.lines()
    assert not any("secret" in line for line in diff.lines()[1:])  # after the header
    assert diff.lines()[-2:] == ["Restarts: livekit (livekit.yaml changed)", LIVEKIT_DRAINS]


def test_the_same_config_restarts_nothing() -> None:
    files = format_bundle(REFERENCE)
    diff = diff_bundles(files, VARS, format_bundle(REFERENCE), dict(VARS))
    assert diff.lines() == ["Server: no server file changes; nothing restarts."]


def test_a_variable_change_fills_placeholders() -> None:
    """The stack's variables win over the zip's defaults (as Resource Manager runs it)."""
    files = format_bundle(REFERENCE)
    diff = diff_bundles(files, VARS, files, {**VARS, "livekit_host": "lk.example.org"})
    text = "\n".join(diff.lines())
    assert '\n-space-livekit.flow-coder.com {\n+lk.example.org {\n' in text
    assert "Restarts: caddy (Caddyfile changed)" in text


def test_rotation_names_livekit_and_shows_no_secret() -> None:
    diff = diff_bundles(format_bundle(REFERENCE), VARS, format_bundle(changed(REFERENCE, version=2)), VARS)
    assert diff.rotated
    lines = diff.lines()
    assert "LiveKit API secret: rotated (masked)" in lines
    assert f"{LIVEKIT_CONFIG}: secret value changed (masked)" in lines
    assert lines[-2:] == ["Restarts: livekit (new API secret, livekit.yaml changed)", LIVEKIT_DRAINS]
    assert "********" not in "\n".join(line for line in lines if line.startswith(("+", "-")))


def test_a_secret_variable_value_is_masked_in_the_diff() -> None:
    """A rotated secret variable (the livekit key is named like one here) shows as ******** on both sides."""
    files = format_bundle(REFERENCE)
    # livekit_api_secret's placeholder is the generated secret; a secret-named variable in a file:
    bundle = dict(files)
    bundle["bundle/docker-compose.yml"] = bundle["bundle/docker-compose.yml"] + b"# token ${alarm_token}\n"
    diff = diff_bundles(bundle, {**VARS, "alarm_token": "s3cr3t-one"}, bundle, {**VARS, "alarm_token": "s3cr3t-two"})
    compose = next(f for f in diff.files if f.path == COMPOSE_FILE)
    assert compose.kind == "secret" and compose.secrets == ["alarm_token"]
    assert "s3cr3t" not in everything(diff)
    # The compose file's services are the same once parsed: the secret is in a comment.
    assert diff.lines()[-1] == "Restarts: none"


def test_compose_names_only_the_services_whose_definition_changed() -> None:
    old = f"services:\n  livekit: {{image: '{PINNED_IMAGE}'}}\n  caddy: {{image: 'caddy:2.8.4'}}\n"
    assert compose_services_changed(old, old.replace(PINNED_IMAGE, bumped_image(6))) == ["livekit"]
    assert compose_services_changed(old, old + "  socket: {build: .}\n") == ["socket"]
    assert compose_services_changed(old, "services:\n  caddy: {image: 'caddy:2.8.4'}\n") == ["livekit"]
    assert compose_services_changed(old, old) == []
    assert compose_services_changed(old, "services: [unclosed") is None


def test_app_image_bump_restarts_the_app() -> None:
    image_config = REFERENCE.replace("  git:\n", "  image: ghcr.io/example/flowspace-socket:1.2.3\n  git_unused:\n", 1)
    image_config = re.sub(r"  git_unused:\n(    .*\n)+", "", image_config)
    old, new = format_bundle(image_config), format_bundle(image_config.replace(":1.2.3", ":1.3.0"))
    diff = diff_bundles(old, {}, new, {})
    text = "\n".join(diff.lines())
    assert "-    image: 'ghcr.io/example/flowspace-socket:1.2.3'\n+    image: 'ghcr.io/example/flowspace-socket:1.3.0'" in text
    assert diff.lines()[-1] == "Restarts: socket (docker-compose.yml changed)"


def test_a_new_git_ref_rebuilds_the_app() -> None:
    diff = diff_bundles(format_bundle(REFERENCE), VARS, format_bundle(REFERENCE.replace("    ref: main\n", "    ref: v2.0.1\n")), VARS)
    assert [f.path for f in diff.files] == [f"{APP_DIR}/socket-source.json"]
    assert diff.lines()[-1] == "Restarts: socket (rebuilt: socket-source.json changed)"
    assert not diff.livekit_restarts


def test_a_firewall_change_restarts_nothing() -> None:
    wider = REFERENCE.replace("livekit:\n", "extra_ports:\n  - {protocol: tcp, port: 8443, reason: admin console}\n\nlivekit:\n", 1)
    diff = diff_bundles(format_bundle(REFERENCE), VARS, format_bundle(wider), VARS)
    lines = diff.lines()
    assert "+add '-p tcp -m state --state NEW -m tcp --dport 8443 -j ACCEPT'" in lines
    assert lines[-2:] == ["Firewall: flowstack-firewall changed: the rules are re-applied (no restart)", "Restarts: none"]


NO_AGENT = ("Server: the stack's current zip has no server bundle (made by a flowstack from before day 2), so its "
            "server has no config agent: these changes reach the running server only when the instance is replaced")
SECRET_BLOCK = re.compile(r'resource "random_password" "livekit_api_secret" \{\n.*?\n\}\n', re.S)
# The secret as flowstack wrote it before day 2 (main 3530421), and as day 2 first wrote version 1.
DAY1_SECRET = 'resource "random_password" "livekit_api_secret" {\n  length  = 48\n  special = false\n}\n'
KEEPERS_V1 = ('resource "random_password" "livekit_api_secret" {\n  length  = 48\n  special = false\n'
              '  keepers = {\n    version = 1\n  }\n}\n')


def with_secret_block(files: dict[str, bytes], block: str) -> dict[str, bytes]:
    main_tf = files["main.tf"].decode()
    assert SECRET_BLOCK.search(main_tf)
    return {**files, "main.tf": SECRET_BLOCK.sub(block, main_tf, count=1).encode()}


def day1_zip(text: str) -> dict[str, bytes]:
    """A zip as a flowstack from before day 2 made it: no bundle/, a secret without keepers."""
    files = {k: v for k, v in render_stack(parse_config(text)).items() if not k.startswith("bundle/")}
    return with_secret_block(files, DAY1_SECRET)


def test_version_1_with_or_without_keepers_is_the_same_secret() -> None:
    new = format_bundle(REFERENCE)
    for old in (with_secret_block(new, KEEPERS_V1), with_secret_block(new, DAY1_SECRET)):
        diff = diff_bundles(old, VARS, new, VARS)
        assert not diff.rotated and diff.lines() == ["Server: no server file changes; nothing restarts."]
    assert diff_bundles(with_secret_block(new, KEEPERS_V1), VARS, format_bundle(changed(REFERENCE, version=2)), VARS).rotated


def test_a_day1_stack_has_no_agent_to_apply_the_diff() -> None:
    """Upgrading a stack from before day 2: no rotation, and no line that suggests an agent applies anything."""
    prepared = Prepared(build(ROOT / "stacks" / "flowspace.yaml"), None, {}, "flowspace.yaml")  # type: ignore[arg-type]
    same = diff_bundles(day1_zip(REFERENCE), VARS, format_bundle(REFERENCE), VARS)
    assert not same.rotated and not same.restarts
    assert server_lines(same, prepared) == [NO_AGENT]
    rotated = diff_bundles(day1_zip(REFERENCE), VARS, format_bundle(changed(REFERENCE, version=2)), VARS)
    assert rotated.rotated
    assert server_lines(rotated, prepared) == [NO_AGENT, "LiveKit API secret: rotated (masked)"]


def test_without_a_bundle_the_diff_says_why() -> None:
    plain = {k: v for k, v in render_stack(parse_config(REFERENCE)).items() if not k.startswith("bundle/")}
    assert diff_bundles(plain, VARS, format_bundle(REFERENCE), VARS).lines() == [NO_AGENT]
    rotated = {k: v for k, v in render_stack(parse_config(changed(REFERENCE, version=3))).items() if not k.startswith("bundle/")}
    assert diff_bundles(plain, VARS, rotated, VARS).lines() == [
        "Server: this zip has no server bundle (bundle/manifest.json): no server file diff",
        "LiveKit API secret: rotated (masked)"]
    broken = {**format_bundle(REFERENCE), "bundle/manifest.json": b'{"format": 9, "files": []}'}
    assert diff_bundles(broken, VARS, format_bundle(REFERENCE), VARS).lines() == [
        "Server: cannot read the server bundle (bundle format 9 (this flowstack reads 1)); the diff is not shown"]


@pytest.mark.parametrize(("value", "hint"), [
    ("25:00", ""), ("4:30", ' (did you mean "04:30"?)'), ("0430", ' (did you mean "04:30"?)'),
    ("04:60", ""), ("", ""), ("4am", ""), ("04:30:00", ""),
])
def test_at_must_be_hh_mm(value: str, hint: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        check_apply_at(value)
    assert str(caught.value) == (f"--at: got {value!r}; expected a time of day as HH:MM, 24-hour, in the server's "
                                 f"time zone, e.g. 04:30{hint}")
    assert caught.value.exit_code == 2


def test_at_accepts_the_day() -> None:
    assert [check_apply_at(v) for v in ("00:00", "04:30", "23:59")] == ["00:00", "04:30", "23:59"]


@pytest.mark.parametrize(("manifest", "why"), [
    (b"[]", "bundle/manifest.json is an array, not a JSON object"),
    (b'"x"', "bundle/manifest.json is a string, not a JSON object"),
    (b"null", "bundle/manifest.json is null, not a JSON object"),
    (b'{"format": 1, "files": ["x"]}', "bundle/manifest.json: files is not a list of objects"),
    (b'{"format": 1, "files": {"a": 1}}', "bundle/manifest.json: files is not a list of objects"),
])
def test_a_manifest_that_is_not_an_object_is_no_readable_bundle(manifest: bytes, why: str) -> None:
    files = format_bundle(REFERENCE)
    for old, new in (({**files, "bundle/manifest.json": manifest}, files), (files, {**files, "bundle/manifest.json": manifest})):
        assert diff_bundles(old, VARS, new, VARS).lines() == [f"Server: cannot read the server bundle ({why}); the diff is not shown"]


def test_credentials_in_a_git_url_are_masked_in_the_diff() -> None:
    """Defence in depth: the stack's rule refuses a user:token@ URL, and the diff would not show one either."""
    files = format_bundle(REFERENCE)
    diff = diff_bundles(files, VARS, files, {"socket_git_url": "https://bob:ghp_S3CRETTOKEN@github.com/o/app.git"})
    text = everything(diff)
    assert "S3CRET" not in text and "bob" not in text
    assert "https://********@github.com/o/app.git" in text


def test_a_broken_zip_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a zip"):
        read_zip(b"PK\x03\x04 broken")
