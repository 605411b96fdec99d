"""Always Free limits as dated data.

Oracle has changed (or is reported to have changed) its free allowances; the numbers
live in ``data/always_free.yaml`` with the date each reading took effect, whether it
was verified, and its source.  Code asks "what is in force on this date" and never
holds a limit as a constant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from generator.core.yamlio import load_yaml


@dataclass(frozen=True)
class LimitReading:
    id: str
    effective: dt.date
    verified: bool
    source: str
    a1_ocpu_hours_per_month: int
    a1_gb_hours_per_month: int
    a1_max_ocpus: float
    a1_max_memory_gbs: float
    block_storage_gbs: int
    boot_volume_min_gbs: int
    outbound_tb_per_month: float


@lru_cache(maxsize=1)
def readings() -> tuple[LimitReading, ...]:
    """All readings, oldest first."""
    raw = load_yaml(resources.files("generator").joinpath("data/always_free.yaml").read_text("utf-8"))
    out = [LimitReading(**r) for r in raw["readings"]]
    return tuple(sorted(out, key=lambda r: r.effective))


def in_force(on: dt.date | None = None) -> list[LimitReading]:
    """The readings that may apply on ``on`` (default today), strictest last.

    The newest verified reading always applies.  Newer unverified readings apply
    too, as warnings: a caller treats exceeding a verified reading as an error and
    exceeding an unverified one as a warning that says it is unverified.
    """
    on = on or dt.date.today()
    past = [r for r in readings() if r.effective <= on]
    verified = [r for r in past if r.verified]
    base = verified[-1:] if verified else past[:1]
    newer = [r for r in past if not r.verified and (not base or r.effective > base[0].effective)]
    return base + newer[-1:]
