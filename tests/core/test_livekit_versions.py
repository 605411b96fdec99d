"""The pinned LiveKit version: one home (data/versions.yaml), dated, and checked by `validate`.

The rig (tests/e2e/test_livekit_rig.py) runs this exact version; these fast tests keep the data,
the default image and the warning for servers today's clients cannot use in step.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from generator.checks.report import format_table
from generator.checks.run import validate_files
from generator.config.load import parse_config
from generator.config.schema import LiveKit
from generator.core.versions import caddy_l4_image, livekit_image, too_old_for_current_clients, versions
from generator.emit.render import render_stack

ROOT = Path(__file__).resolve().parents[2]


def test_versions_file_is_dated_and_sourced() -> None:
    lk = versions()["livekit_server"]
    assert lk["image"] == f"livekit/livekit-server:{lk['version']}"
    assert isinstance(lk["released"], dt.date) and "module proxy" in lk["source"]
    assert lk["clients"]["proven"]["python_livekit"] and lk["clients"]["livekit_client_js"]["verified"] is False
    assert not caddy_l4_image().endswith(":latest") and versions()["caddy_l4"]["image_verified"] is False


def test_default_image_is_the_pinned_one_and_the_reference_stack_does_not_repeat_it() -> None:
    assert LiveKit().image == livekit_image()
    stack = yaml.safe_load((ROOT / "stacks" / "flowspace.yaml").read_text())
    assert "image" not in stack["livekit"]
    # The pin serves current clients: livekit-client >= 2.18.1 needs a server above v1.9.9.
    assert too_old_for_current_clients(livekit_image()) is None


@pytest.mark.parametrize(
    ("image", "old"),
    [
        ("livekit/livekit-server:v1.8.4", True),
        ("livekit/livekit-server:v1.9.9", True),
        ("livekit/livekit-server:v1.9.10", False),
        (livekit_image(), False),  # the pin itself
        ("docker.io/livekit/livekit-server:v1.2.0", True),
        ("example/other-server:v0.1.0", False),  # not LiveKit's image: not judged
    ],
)
def test_servers_too_old_for_current_clients(image: str, old: bool) -> None:
    msg = too_old_for_current_clients(image)
    assert (msg is not None) == old
    if msg:
        assert "client-sdk-js#1887" in msg and livekit_image() in msg


def test_checks_warn_on_an_old_server_and_not_on_the_pin() -> None:
    """The fast twin of the CLI test below: the same two configs through the same checks
    `flowstack validate` runs (in-process, without Terraform and Checkov)."""
    base = yaml.safe_load((ROOT / "stacks" / "flowspace.yaml").read_text())
    out = {}
    for name, image in (("old", "livekit/livekit-server:v1.8.4"), ("pinned", None)):
        cfg = dict(base, livekit={**base["livekit"], **({"image": image} if image else {})})
        config = parse_config(yaml.safe_dump(cfg), f"{name}.yaml")
        report = validate_files(render_stack(config), config)
        out[name] = format_table(report)  # the table `flowstack validate` prints
    assert "livekit-client >= 2.18.1 cannot connect" in out["old"]
    assert "cannot connect" not in out["pinned"]


@pytest.mark.slow  # `flowstack generate` + `flowstack validate` twice: real Terraform and Checkov (~8 s of CPU)
def test_validate_warns_on_an_old_server_and_not_on_the_pin(tmp_path: Path) -> None:
    import subprocess
    import sys

    exe = str(Path(sys.executable).parent / "flowstack")
    base = yaml.safe_load((ROOT / "stacks" / "flowspace.yaml").read_text())
    out = {}
    for name, image in (("old", "livekit/livekit-server:v1.8.4"), ("pinned", None)):
        cfg = dict(base, livekit={**base["livekit"], **({"image": image} if image else {})})
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        subprocess.run([exe, "generate", str(path), "-o", str(tmp_path / name)], check=True, capture_output=True, timeout=60)
        p = subprocess.run([exe, "validate", str(tmp_path / name)], check=False, capture_output=True, text=True, timeout=120)
        out[name] = p.stdout + p.stderr
    assert "livekit-client >= 2.18.1 cannot connect" in out["old"]
    assert "cannot connect" not in out["pinned"]


def test_negative_control_helper_refuses_a_rule_that_is_not_there() -> None:
    """A control that silently removed nothing would 'pass' for the wrong reason."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from rig.stack import drop_firewall_rule

    script = "add '-p tcp -m state --state NEW -m tcp --dport 7881 -j ACCEPT'\nadd '-p udp -m udp --dport 3478 -j ACCEPT'\n"
    assert "7881" not in drop_firewall_rule(script, "--dport 7881")
    with pytest.raises(ValueError, match="found 0"):
        drop_firewall_rule(script, "--dport 9999")
