"""Sizing advice for `flowstack cost`: can the configured OCPUs carry the scenario?

Built on LiveKit's published single-node benchmark (``data/sizing.yaml``, dated, with its
source): the "Large meeting" row, 150 participants each publishing 720p video and
subscribing to the others, held by 16 vCPUs at 85 % CPU. Model (every step an assumption
the output prints, flagged unverified where sizing.yaml says so):

* the SFU's work is forwarding: one *subscription* is one participant receiving one other
  participant's video. Full room: every user subscribes to everyone else in their space
  (users - 1). Proximity groups (spatial audio/video): each user subscribes to at most
  ``subscribed_per_user`` others.
* CPU grows linearly with subscriptions (``cpu-scales-with-forwarded-packets``), so the
  benchmark gives subscriptions per vCPU at its CPU load;
* one A1 OCPU does the work of one benchmark vCPU (``a1-ocpu-per-benchmark-vcpu``).
* bandwidth: the benchmark's bytes per subscription (out) and per publisher (in).

Example:
    >>> advice = size(2, spaces=1, users_per_space=150, subscribed_per_user=None)
    >>> advice.needed_ocpus, advice.enough
    (16, False)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from generator.core.errors import CostError
from generator.core.limits import in_force
from generator.core.prices import price_book
from generator.core.yamlio import load_yaml

BASIS = "large-meeting"
MBPS_PER_BYTE_PER_S = Decimal(8) / Decimal(1_000_000)


@lru_cache(maxsize=1)
def sizing_data() -> dict[str, Any]:
    """data/sizing.yaml, read once."""
    return load_yaml(resources.files("generator").joinpath("data/sizing.yaml").read_text("utf-8"))


@dataclass(frozen=True)
class SizingAdvice:
    ocpus: float
    users: int
    subscriptions: int
    subscribed_per_user: int
    full_room: bool
    cpu_ocpus: Decimal  # OCPUs the scenario keeps busy at the benchmark's load
    needed_ocpus: int
    egress_mbps: Decimal
    ingress_mbps: Decimal
    extra_usd_per_month: Decimal | None  # running needed_ocpus beyond the free tier; None when enough
    free_text: str  # the Always Free OCPU limits in force, each marked verified or not
    notes: tuple[str, ...]

    @property
    def enough(self) -> bool:
        return self.ocpus >= self.needed_ocpus

    def to_dict(self) -> dict[str, Any]:
        return {
            "ocpus": self.ocpus, "users": self.users, "subscriptions": self.subscriptions,
            "subscribed_per_user": self.subscribed_per_user, "full_room": self.full_room,
            "cpu_ocpus": float(self.cpu_ocpus), "needed_ocpus": self.needed_ocpus, "enough": self.enough,
            "egress_mbps": float(self.egress_mbps), "ingress_mbps": float(self.ingress_mbps),
            "extra_usd_per_month": None if self.extra_usd_per_month is None else float(self.extra_usd_per_month),
            "always_free_ocpus": self.free_text,
            "assumptions": list(self.notes),
        }


def _basis() -> tuple[dict[str, Any], dict[str, Any]]:
    reading = sizing_data()["readings"][0]
    return reading, next(s for s in reading["scenarios"] if s["id"] == BASIS)


def size(ocpus: float, *, spaces: int, users_per_space: int, subscribed_per_user: int | None, on: dt.date | None = None) -> SizingAdvice:
    """How many OCPUs the scenario needs, the bandwidth it moves, and the cost of the gap."""
    if subscribed_per_user is not None and subscribed_per_user < 1:
        raise CostError("scenario.subscribed_per_user", subscribed_per_user, "must be a whole number of at least 1 (or left out for a full room)")
    reading, row = _basis()
    full = subscribed_per_user is None or subscribed_per_user >= users_per_space - 1
    per_user = users_per_space - 1 if full else int(subscribed_per_user or 0)
    users = spaces * users_per_space
    subscriptions = users * per_user
    bench_subs = row["publishers"] * (row["subscribers"] - 1)
    bench_busy = Decimal(reading["machine"]["vcpus"]) * Decimal(row["cpu_percent"]) / 100
    cpu = bench_busy * subscriptions / bench_subs
    # The benchmark machine ran at cpu_percent: the same load per OCPU is "full".
    needed = max(1, math.ceil(Decimal(reading["machine"]["vcpus"]) * subscriptions / bench_subs))
    egress = Decimal(row["bytes_out_per_s"]) / bench_subs * subscriptions * MBPS_PER_BYTE_PER_S
    ingress = Decimal(row["bytes_in_per_s"]) / row["publishers"] * users * MBPS_PER_BYTE_PER_S
    limits = in_force(on)
    free = ", ".join(f"{r.a1_max_ocpus:g} OCPU from {r.effective} ({'verified' if r.verified else 'reported, not verified'})" for r in limits)
    # The strictest free allowance in force: the estimate errs high, never low.
    strictest = min(limits, key=lambda r: r.a1_ocpu_hours_per_month)
    extra = None if ocpus >= needed else _extra_cost(needed, strictest.a1_ocpu_hours_per_month)
    return SizingAdvice(float(ocpus), users, subscriptions, per_user, full, cpu, needed, egress, ingress, extra, free,
                        tuple(_notes(reading, row, full, per_user)))


def _extra_cost(ocpus: int, free_ocpu_hours: int) -> Decimal:
    book = price_book()
    over = max(Decimal(0), ocpus * book.hours_per_month - free_ocpu_hours)
    return (over * book.a1_ocpu.usd).quantize(Decimal("0.01"))


def _notes(reading: dict[str, Any], row: dict[str, Any], full: bool, per_user: int) -> list[str]:
    src = reading["source"]
    bench = (f"basis: LiveKit's benchmark \"{row['use_case']}\": {row['publishers']} x {row['subscribers']} participants, {row['media']}, "
             f"{reading['machine']['vcpus']} vCPU ({reading['machine']['type']}) at {row['cpu_percent']} % CPU "
             f"({src['url']}, page of {src['page_rendered']}, read {src['read']}; still current: {reading['current_as_of_read']})")
    who = ("full room: every user subscribes to every other user of the space (pass --subscribed-per-user N for proximity groups)" if full
           else f"proximity groups: each user subscribes to {per_user} others (--subscribed-per-user)")
    out = [bench, who]
    audio = next((r for r in reading["scenarios"] if r["media"] == "audio"), None)
    if audio:
        # Only the video row is the basis; the audio row is shown so the reader can judge an audio-heavy space.
        out.append(f"audio tracks are not counted on top (unverified whether the meeting row's participants also sent audio); "
                   f"for reference, LiveKit's \"{audio['use_case']}\" row: {audio['publishers']} publishers to "
                   f"{audio['subscribers']:,} subscribers at {audio['cpu_percent']} % CPU on the same machine")
    for a in sizing_data()["assumptions"]:
        out.append(f"assumed{'' if a['verified'] else ' (unverified)'}: {a['statement']}")
    here = sizing_data().get("measured_here")
    if here:  # the generated config against a bare LiveKit on this machine (`make bench`), beside the published numbers
        out.append(f"measured here (generated config vs bare LiveKit): {'not measured: ' + here['why'] if here['ratio'] is None else str(here['ratio'])}"
                   f" (recorded {here['recorded']})")
    return out


def format_sizing(advice: SizingAdvice) -> str:
    """The sizing block of `flowstack cost`."""
    lines = [
        "Sizing (LiveKit SFU)",
        f"  {advice.users:,} users, {advice.subscriptions:,} video subscriptions: about {advice.cpu_ocpus:.1f} OCPU busy; "
        f"{advice.needed_ocpus} OCPU would do (configured: {advice.ocpus:g})",
        f"  media at peak: about {advice.egress_mbps:,.0f} Mbps out, {advice.ingress_mbps:,.0f} Mbps in",
    ]
    if not advice.enough:
        cost = (f"about ${advice.extra_usd_per_month:,.2f}/month of OCPU beyond the strictest free allowance in force "
                f"(A1 price as of {price_book().a1_ocpu.as_of}; memory as configured)")
        lines.append(f"  Warning: {advice.ocpus:g} OCPU is too few for this scenario: {advice.needed_ocpus} OCPU would do, {cost}. "
                     f"Always Free allows {advice.free_text}: above that set always_free: false and instance.ocpus: {advice.needed_ocpus}, "
                     f"or plan fewer users per space or proximity groups (--subscribed-per-user)")
    lines += [f"  - {n}" for n in advice.notes]
    return "\n".join(lines)
