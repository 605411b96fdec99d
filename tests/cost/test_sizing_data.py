"""generator/data/sizing.yaml: LiveKit's published benchmark figures, dated and sourced,
with the assumptions that turn them into advice marked unverified."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

SIZING = yaml.safe_load((Path(__file__).resolve().parents[2] / "generator" / "data" / "sizing.yaml").read_text(encoding="utf-8"))


def test_every_reading_is_sourced_and_dated() -> None:
    for reading in SIZING["readings"]:
        source = reading["source"]
        assert source["url"].startswith("https://docs.livekit.io/")
        assert isinstance(source["read"], dt.date) and isinstance(source["page_rendered"], dt.date)
        assert reading["verified"] in (True, False)
        assert reading["machine"]["vcpus"] > 0


def test_scenarios_carry_the_published_figures() -> None:
    scenarios = {s["id"]: s for r in SIZING["readings"] for s in r["scenarios"]}
    assert set(scenarios) == {"large-audio-room", "large-meeting", "livestream"}
    for s in scenarios.values():
        assert 0 < s["cpu_percent"] <= 100
        for key in ("publishers", "subscribers", "bytes_in_per_s", "bytes_out_per_s", "packets_in_per_s", "packets_out_per_s"):
            assert isinstance(s[key], int) and s[key] > 0, (s["id"], key)
        # Forwarding fans out: more leaves the server than arrives.
        assert s["bytes_out_per_s"] > s["bytes_in_per_s"] and s["packets_out_per_s"] > s["packets_in_per_s"]
    meeting = scenarios["large-meeting"]
    assert (meeting["publishers"], meeting["subscribers"], meeting["cpu_percent"]) == (150, 150, 85)
    audio = scenarios["large-audio-room"]
    assert (audio["publishers"], audio["subscribers"], audio["cpu_percent"]) == (10, 3000, 80)


def test_assumptions_say_they_are_unverified() -> None:
    assert SIZING["assumptions"]
    for a in SIZING["assumptions"]:
        assert a["verified"] is False and a["statement"] and a["source"] and isinstance(a["recorded"], dt.date)
