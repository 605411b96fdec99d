"""Issue 16: `flowstack cost` sizing advice from LiveKit's published benchmark (data/sizing.yaml).

The figures are recomputed here from the data file, not typed in, so a new benchmark
reading changes the test's expectation with it; the warning's presence and absence are
both shown (the check can fail).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.errors import CostError
from generator.cost.sizing import size, sizing_data


def _config(tmp_path: Path, ocpus: float) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: sizing\ninstance:\n  ocpus: {ocpus}\n", encoding="utf-8")
    return path


def _bench() -> tuple[int, int]:
    reading = sizing_data()["readings"][0]
    row = next(s for s in reading["scenarios"] if s["id"] == "large-meeting")
    return reading["machine"]["vcpus"], row["publishers"] * (row["subscribers"] - 1)


def test_150_users_on_2_ocpus_warns_with_what_would_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cost", str(_config(tmp_path, 2)), "--users-per-space", "150", "--date", "2026-12-01"])
    assert result.exit_code == 0, result.output
    block = result.stdout.split("Sizing (LiveKit SFU)\n", 1)[1]
    vcpus, subs = _bench()
    needed = math.ceil(vcpus * 150 * 149 / subs)
    assert "150 users, 22,350 video subscriptions" in block
    assert f"Warning: 2 OCPU is too few for this scenario: {needed} OCPU would do" in block
    assert "/month of OCPU beyond the strictest free allowance in force" in block
    assert "full room: every user subscribes to every other user" in block
    assert "assumed (unverified): 1 OCI Ampere A1 OCPU" in block
    assert "docs.livekit.io" in block and "read 2026-12-01" in block


def test_enough_ocpus_or_proximity_groups_do_not_warn(tmp_path: Path) -> None:
    small = CliRunner().invoke(cli, ["cost", str(_config(tmp_path, 2)), "--users-per-space", "20"])
    assert small.exit_code == 0 and "Sizing (LiveKit SFU)" in small.stdout and "Warning" not in small.stdout
    groups = CliRunner().invoke(cli, ["cost", str(_config(tmp_path, 2)), "--users-per-space", "150", "--subscribed-per-user", "8"])
    assert groups.exit_code == 0
    assert "proximity groups: each user subscribes to 8 others" in groups.stdout and "Warning" not in groups.stdout


def test_json_carries_the_sizing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cost", str(_config(tmp_path, 2)), "--users-per-space", "150", "--json"])
    sizing = json.loads(result.stdout)["sizing"]
    assert sizing["enough"] is False and sizing["needed_ocpus"] > 2 and sizing["extra_usd_per_month"] > 0
    assert sizing["subscriptions"] == 150 * 149


def test_bandwidth_scales_with_subscriptions() -> None:
    one, two = size(4, spaces=1, users_per_space=10, subscribed_per_user=None), size(4, spaces=2, users_per_space=10, subscribed_per_user=None)
    assert two.subscriptions == 2 * one.subscriptions == 180
    assert float(two.egress_mbps) == pytest.approx(2 * float(one.egress_mbps))
    assert float(two.ingress_mbps) == pytest.approx(2 * float(one.ingress_mbps))


def test_bad_subscribed_per_user_is_refused() -> None:
    with pytest.raises(CostError):
        size(2, spaces=1, users_per_space=10, subscribed_per_user=0)
