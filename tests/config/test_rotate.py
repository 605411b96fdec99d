"""Issue 15: `flowstack rotate-secret CONFIG` bumps livekit.api_secret_version with a minimal edit.

Real files, the real CLI (click's CliRunner), the real renderer: every byte of the config
but the version stays as written (comments, quoting, CRLF), files it cannot edit safely are
refused with one Error line and left untouched, and main.tf's keepers follow the number.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config.load import load_config
from generator.emit.jsonschema import config_json_schema
from generator.emit.render import render_stack

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "stacks" / "flowspace.yaml"


def rotate(path: Path):
    return CliRunner().invoke(cli, ["rotate-secret", str(path)], catch_exceptions=False)


def keepers(path: Path) -> str:
    main_tf = render_stack(load_config(path))["main.tf"].decode()
    block = re.search(r'resource "random_password" "livekit_api_secret" \{\n(.*?)\n\}', main_tf, re.S)
    assert block, main_tf
    return block.group(1)


def copy_of(tmp_path: Path, text: str | bytes, name: str = "flowspace.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_rotate_inserts_one_line_then_changes_only_the_number(tmp_path: Path) -> None:
    original = REFERENCE.read_bytes()
    path = copy_of(tmp_path, original)
    os.chmod(path, 0o640)
    assert "keepers" not in keepers(path)  # version 1: no keepers (as stacks from before day 2)

    first = rotate(path)
    assert first.exit_code == 0, first.output
    line = original.decode().splitlines().index("  api_key: APIFlowspace") + 1
    lines = first.stdout.splitlines()
    assert lines[0] == f"{path}:{line}: livekit.api_secret_version 1 -> 2 (inserted; nothing else in the file changed)"
    assert lines[1] == "Next steps:"
    assert lines[2].startswith(f"  1. flowstack rm-apply {path}   (Terraform makes the new secret; LiveKit restarts")
    assert "--at HH:MM" in lines[2]
    assert lines[3] == f"  2. flowstack rm-outputs {path} --json --show-sensitive | flowstack env - -o .env.production"
    assert lines[4].startswith("  3. give the front end the new LIVEKIT_API_SECRET")
    # Every byte kept, one line inserted before livekit's first key (its comment stays on top).
    head, sep, tail = original.partition(b"  api_key: APIFlowspace\n")
    assert path.read_bytes() == head + b"  api_secret_version: 2\n" + sep + tail
    assert oct(path.stat().st_mode & 0o777) == "0o640"  # the file's mode is kept
    assert "version = 2\n" in keepers(path)

    second = rotate(path)
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[0] == f"{path}:{line}: livekit.api_secret_version 2 -> 3 (changed; nothing else in the file changed)"
    assert path.read_bytes() == head + b"  api_secret_version: 3\n" + sep + tail
    assert "version = 3\n" in keepers(path)
    assert list(tmp_path.iterdir()) == [path]  # no temp file left beside it


def test_keepers_are_exactly_terraform_fmt(tmp_path: Path) -> None:
    """The rendered block (with its comment) is what `terraform fmt` would write."""
    body = keepers(copy_of(tmp_path, REFERENCE.read_text().replace("livekit:\n", "livekit:\n  api_secret_version: 12\n", 1)))
    assert body == ("  length  = 48\n  special = false\n"
                    "  # A new version (livekit.api_secret_version, `flowstack rotate-secret`) makes a new secret.\n"
                    "  # Version 1 renders no keepers: adding keepers to a stack made without them replaces the secret.\n"
                    "  keepers = {\n    version = 12\n  }")


def test_rotate_keeps_comments_quoting_and_crlf(tmp_path: Path) -> None:
    text = REFERENCE.read_text().replace(
        "livekit:\n", "livekit:   # the media server\n  api_secret_version:    7   # rotated 2026-11-30\n", 1)
    crlf = text.replace("\n", "\r\n").encode()
    path = copy_of(tmp_path, crlf)
    result = rotate(path)
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == crlf.replace(b"api_secret_version:    7   #", b"api_secret_version:    8   #")


@pytest.mark.parametrize("quote", ['"', "'"])
def test_rotate_edits_a_quoted_livekit_key(tmp_path: Path, quote: str) -> None:
    """`"livekit":` is the same key as `livekit:`: the line goes under it, no second block."""
    text = REFERENCE.read_text().replace("\nlivekit:\n", f"\n{quote}livekit{quote}:\n", 1)
    path = copy_of(tmp_path, text)
    result = rotate(path)
    assert result.exit_code == 0, result.output
    assert path.read_text() == text.replace("  api_key: APIFlowspace\n", "  api_secret_version: 2\n  api_key: APIFlowspace\n", 1)
    assert path.read_text().count("livekit" + quote + ":") == 1
    assert load_config(path).livekit.api_secret_version == 2


def test_rotate_appends_a_livekit_block_when_there_is_none(tmp_path: Path) -> None:
    text = REFERENCE.read_text()
    start, end = livekit_block(text)
    without = text[:start] + text[end:]  # the block gone: LiveKit's defaults
    without = without.rstrip("\n")  # and no newline at the end of the file
    path = copy_of(tmp_path, without)
    result = rotate(path)
    assert result.exit_code == 0, result.output
    assert path.read_text() == without + "\nlivekit:\n  api_secret_version: 2\n"
    assert load_config(path).livekit.api_secret_version == 2


def livekit_block(text: str) -> tuple[int, int]:
    """Start and end of the reference config's livekit block (at a blank line or the end)."""
    start = text.index("livekit:\n")
    end = text.find("\n\n", start)
    return start, len(text) if end < 0 else end + 2


REFUSALS = {
    "flow-style mapping": (
        lambda t: t[:livekit_block(t)[0]] + "livekit: {api_key: APIFlowspace, port: 7880}\n\n" + t[livekit_block(t)[1]:],
        "livekit is not a block mapping (one key per line)",
    ),
    "number in hex": (
        lambda t: t.replace("livekit:\n", "livekit:\n  api_secret_version: 0x2\n", 1),
        "livekit.api_secret_version is not written as a plain number",
    ),
    "document markers": (
        lambda t: "---\n" + t,
        "the file has YAML document markers (--- or ...)",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_rotate_refuses_files_it_cannot_edit_safely(tmp_path: Path, case: str) -> None:
    change, reason = REFUSALS[case]
    text = change(REFERENCE.read_text())
    path = copy_of(tmp_path, text)
    load_config(path)  # a valid config: only the edit is unsafe
    before = path.read_bytes()
    os.utime(path, (1_000_000_000, 1_000_000_000))
    result = rotate(path)
    assert result.exit_code == 2
    assert result.stdout == ""
    version = load_config(path).livekit.api_secret_version
    line = next((i + 1 for i, ln in enumerate(text.splitlines())
                 if ln.startswith("livekit:") or "api_secret_version" in ln), None)
    where = "" if case == "document markers" else f":{line}"
    if case == "number in hex":
        where = f":{line + 1}"
    assert result.stderr == (
        f"Error: {path}{where}: livekit: cannot edit this file safely: {reason}; expected add "
        f"`api_secret_version: {version + 1}` under `livekit:` by hand (as a block mapping: one key per line)\n"
    )
    assert path.read_bytes() == before and path.stat().st_mtime == 1_000_000_000  # untouched
    assert list(tmp_path.iterdir()) == [path]


def test_rotate_refuses_a_config_that_does_not_load(tmp_path: Path) -> None:
    path = copy_of(tmp_path, REFERENCE.read_text().replace("livekit:\n", "livekit:\n  api_secret_version: 0\n", 1))
    before = path.read_bytes()
    result = rotate(path)
    assert result.exit_code == 2
    line = before.decode().splitlines().index("  api_secret_version: 0") + 1
    assert result.stderr == (
        f"Error: {path}:{line}: livekit.api_secret_version: out of range (got 0); expected a number greater than or equal to 1\n"
    )
    assert path.read_bytes() == before


def test_rotate_missing_file(tmp_path: Path) -> None:
    result = rotate(tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nope.yaml'}: config file not found; expected a path to a stacks/<name>.yaml file\n"
    assert not (tmp_path / "nope.yaml").exists()


def test_the_json_schema_knows_the_version() -> None:
    field = config_json_schema()["$defs"]["LiveKit"]["properties"]["api_secret_version"]
    assert field["type"] == "integer" and field["minimum"] == 1 and field["default"] == 1


@pytest.mark.slow
def test_real_terraform_makes_a_new_secret_in_place(terraform_bin, tf_stack: Path, tmp_path: Path) -> None:
    """Real Terraform 1.5.7 against the provider double (OCI itself replaced: unreachable here):
    after a rotation the plan replaces only random_password and updates the server in place
    (the bundle metadata), and the output is a new secret. Fails without the keepers: no change."""
    from tfdouble_support import generate, resource_changes, sample_variables

    from generator.tfdouble.runner import TerraformRun

    config = copy_of(tmp_path, REFERENCE.read_bytes())
    assert rotate(config).exit_code == 0
    rotated = generate(config, tmp_path / "rotated")
    with TerraformRun(tf_stack, sample_variables(tf_stack), terraform=terraform_bin) as run:
        assert run.apply().ok
        before = run.output()["LIVEKIT_API_SECRET"]["value"]
        for name in ("main.tf", "bundle.tf", "bundle/livekit.yaml"):
            (tf_stack / name).write_bytes((rotated / name).read_bytes())
        assert run.plan("tfplan").ok
        changes = resource_changes(run.show("tfplan"))
        assert changes["random_password.livekit_api_secret"] == ["delete", "create"]
        assert changes["oci_core_instance.server"] == ["update"]
        assert run.apply("tfplan").ok
        after = run.output()["LIVEKIT_API_SECRET"]["value"]
    assert re.fullmatch(r"[A-Za-z0-9]{48}", after) and after != before


# What flowstack wrote before day 2 (main 3530421): the secret without keepers.
DAY1_SECRET = 'resource "random_password" "livekit_api_secret" {\n  length  = 48\n  special = false\n}\n'
SECRET_BLOCK = re.compile(r'resource "random_password" "livekit_api_secret" \{\n.*?\n\}\n', re.S)


@pytest.mark.slow
def test_upgrading_a_day1_stack_keeps_the_secret_until_a_rotation(terraform_bin, tf_stack: Path, tmp_path: Path) -> None:
    """Real Terraform 1.5.7 against the provider double (OCI replaced: unreachable here).
    A stack applied by a flowstack from before day 2 (no keepers), then this flowstack's
    stack of the same config (version 1): random_password stays (going from no keepers to
    keepers would replace it: a rotation nobody asked for). Version 2 then replaces it."""
    from tfdouble_support import generate, resource_changes, sample_variables

    from generator.tfdouble.runner import TerraformRun

    main_tf = (tf_stack / "main.tf").read_text()
    day1 = SECRET_BLOCK.sub(DAY1_SECRET, main_tf, count=1)
    assert day1.count(DAY1_SECRET) == 1
    (tf_stack / "main.tf").write_text(day1)
    config = copy_of(tmp_path, REFERENCE.read_bytes())
    assert rotate(config).exit_code == 0
    rotated = generate(config, tmp_path / "rotated")
    with TerraformRun(tf_stack, sample_variables(tf_stack), terraform=terraform_bin) as run:
        assert run.apply().ok
        before = run.output()["LIVEKIT_API_SECRET"]["value"]
        (tf_stack / "main.tf").write_text(main_tf)  # the upgrade: same config, this flowstack
        assert run.plan("tfplan").ok
        assert resource_changes(run.show("tfplan"))["random_password.livekit_api_secret"] == ["no-op"]
        assert run.apply("tfplan").ok
        assert run.output()["LIVEKIT_API_SECRET"]["value"] == before
        for name in ("main.tf", "bundle.tf", "bundle/livekit.yaml"):
            (tf_stack / name).write_bytes((rotated / name).read_bytes())
        assert run.plan("tfplan2").ok
        assert resource_changes(run.show("tfplan2"))["random_password.livekit_api_secret"] == ["delete", "create"]
