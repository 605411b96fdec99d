"""Oracle's idle-reclamation rule for Always Free instances, from ``data/idle_reclamation.yaml``.

Each 7-day figure (CPU, network, memory: the 95th percentile) is held against the
thresholds of the reading in force; the instance is at risk only when every applicable
figure is under its threshold (Oracle's rule, as quoted: all conditions must hold).
Nothing here is verified at Oracle; every `Finding` and the verdict say so.

>>> v = verdict({"cpu": 3.0, "network": 0.1, "memory": 15.0}, "VM.Standard.A1.Flex")
>>> v.at_risk, [f.metric for f in v.findings if f.below]
(True, ['cpu', 'network', 'memory'])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from generator.core.yamlio import load_yaml

LABELS = {"cpu": "CPU", "network": "network", "memory": "memory"}


@dataclass(frozen=True)
class Threshold:
    metric: str
    statistic: str
    below_pct: float
    verified: bool
    shapes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reading:
    id: str
    effective: dt.date
    verified: bool
    source: str
    window_days: int
    thresholds: tuple[Threshold, ...]


@dataclass(frozen=True)
class Finding:
    metric: str
    value: float | None
    threshold: Threshold

    @property
    def below(self) -> bool:
        return self.value is not None and self.value < self.threshold.below_pct

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "statistic": self.threshold.statistic, "value_pct": self.value,
                "threshold_pct": self.threshold.below_pct, "below": self.below, "verified": self.threshold.verified}


@dataclass(frozen=True)
class Verdict:
    at_risk: bool
    reading: Reading
    findings: tuple[Finding, ...]
    summary: str
    avert: tuple[str, ...]
    notes: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        r = self.reading
        return {"at_risk": self.at_risk, "summary": self.summary, "avert": list(self.avert),
                "findings": [f.to_dict() for f in self.findings],
                "rule": {"id": r.id, "effective": r.effective.isoformat(), "verified": r.verified, "source": r.source,
                         "window_days": r.window_days}, "notes": self.notes}


@lru_cache(maxsize=1)
def _data() -> tuple[tuple[Reading, ...], dict[str, str]]:
    raw = load_yaml(resources.files("generator").joinpath("data/idle_reclamation.yaml").read_text("utf-8"))
    out = []
    for r in raw["readings"]:
        ths = tuple(Threshold(t["metric"], t["statistic"], float(t["below_pct"]), bool(t["verified"]), tuple(t.get("shapes", ())))
                    for t in r["thresholds"])
        out.append(Reading(r["id"], r["effective"], bool(r["verified"]), " ".join(r["source"].split()), int(r["window_days"]), ths))
    notes = {k: " ".join(v.split()) for k, v in raw.get("notes", {}).items()}
    return tuple(sorted(out, key=lambda r: r.effective)), notes


def reading_in_force(on: dt.date | None = None) -> Reading:
    """The newest reading effective on ``on`` (default today)."""
    readings, _ = _data()
    on = on or dt.date.today()
    past = [r for r in readings if r.effective <= on]
    return past[-1] if past else readings[0]


def verdict(figures: dict[str, float | None], shape: str, on: dt.date | None = None) -> Verdict:
    """Hold the 7-day figures (percent; None: no data) against the rule in force."""
    reading = reading_in_force(on)
    _, notes = _data()
    applicable = [t for t in reading.thresholds if not t.shapes or shape in t.shapes]
    findings = tuple(Finding(t.metric, figures.get(t.metric), t) for t in applicable)
    missing = [f.metric for f in findings if f.value is None]
    at_risk = bool(findings) and all(f.below for f in findings)
    mark = "" if reading.verified else " (thresholds unverified)"
    if at_risk:
        summary = f"AT RISK of reclamation: every {reading.window_days}-day figure is under Oracle's idle thresholds{mark}"
        avert = tuple(f"keep {LABELS[f.metric]} {f.threshold.statistic} at or above {f.threshold.below_pct:g}% "
                      f"(now {f.value:.1f}%)" for f in findings) + ("or convert the tenancy to Pay As You Go (Oracle's e-mail as quoted; unverified: data/idle_reclamation.yaml notes.payg)",)
        avert = ("any ONE of these averts it:",) + avert
    elif missing:
        summary = f"UNKNOWN: no {'/'.join(LABELS[m] for m in missing)} data for the last {reading.window_days} days{mark}"
        avert = ("install/enable the Compute Instance Monitoring plugin (Oracle Cloud Agent) so oci_computeagent metrics exist",)
    else:
        above = [LABELS[f.metric] for f in findings if not f.below]
        summary = f"not at risk: {', '.join(above)} above the idle threshold over {reading.window_days} days{mark}"
        avert = ()
    return Verdict(at_risk, reading, findings, summary, avert, notes)
