"""Dated prices: ``data/prices.yaml`` read once, each price with its ``as_of`` date and source.

>>> price_book().a1_ocpu.as_of  # doctest: +SKIP
datetime.date(2026, 6, 1)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from generator.core.errors import CostError
from generator.core.yamlio import load_yaml


def dec(value: object) -> Decimal:
    """A YAML or CLI number as an exact Decimal (through str, so 0.025 stays 0.025)."""
    return Decimal(str(value))


# ---------------------------------------------------------------------------
# Price data


@dataclass(frozen=True)
class DatedPrice:
    """One unit price with the date it was taken as of and where it came from."""

    item: str
    usd: Decimal
    unit: str
    as_of: dt.date
    source: str
    verified: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "usd": float(self.usd),
            "unit": self.unit,
            "as_of": self.as_of.isoformat(),
            "source": self.source,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class OptionalPrice:
    """A dated price that may be unknown: ``usd`` None means no price was found (not zero)."""

    item: str
    usd: Decimal | None
    unit: str
    as_of: dt.date
    source: str
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "usd": None if self.usd is None else float(self.usd), "unit": self.unit,
                "as_of": self.as_of.isoformat(), "source": self.source, "verified": self.verified}


@dataclass(frozen=True)
class PriceGroup:
    """An outbound-transfer price group of Oracle's price list."""

    id: str
    name: str
    part_number: str
    price: DatedPrice


@dataclass(frozen=True)
class LiveKitPlan:
    name: str
    usd_per_month: Decimal
    included_minutes: int
    # None: a hard quota (requests fail past it), so the plan cannot carry more.
    usd_per_minute_over: Decimal | None
    note: str


@dataclass(frozen=True)
class PriceBook:
    gb_per_tb: Decimal
    groups: dict[str, PriceGroup]
    region_group: dict[str, str]
    region_assumed: dict[str, str]
    regions_as_of: dt.date
    regions_source: str
    hours_per_month: Decimal
    a1_ocpu: DatedPrice
    a1_memory: DatedPrice
    reserved_ip: OptionalPrice
    livekit_plans: tuple[LiveKitPlan, ...]
    livekit_as_of: dt.date
    livekit_source: str
    livekit_verified: bool


@lru_cache(maxsize=1)
def price_book() -> PriceBook:
    """The prices in ``data/prices.yaml``, parsed once."""
    raw = load_yaml(resources.files("generator").joinpath("data/prices.yaml").read_text("utf-8"))
    groups = {
        gid: PriceGroup(
            id=gid,
            name=g["name"],
            part_number=g["part_number"],
            price=DatedPrice(
                item=f"outbound transfer, {g['name']} ({g['part_number']})",
                usd=dec(g["usd_per_gb"]),
                unit="GB",
                as_of=g["as_of"],
                source=g["source"],
            ),
        )
        for gid, g in raw["outbound_transfer"]["groups"].items()
    }
    region_group = {region: gid for gid, regions in raw["regions"]["groups"].items() for region in regions}
    a1 = raw["a1_compute"]
    lk = raw["livekit_cloud"]
    rip = raw["reserved_public_ip"]
    return PriceBook(
        gb_per_tb=dec(raw["gb_per_tb"]),
        groups=groups,
        region_group=region_group,
        region_assumed=dict(raw["regions"].get("assumed") or {}),
        regions_as_of=raw["regions"]["as_of"],
        regions_source=raw["regions"]["source"],
        hours_per_month=dec(a1["hours_per_month"]),
        a1_ocpu=DatedPrice("A1 OCPU", dec(a1["ocpu"]["usd_per_ocpu_hour"]), "OCPU-hour", a1["ocpu"]["as_of"], a1["ocpu"]["source"]),
        a1_memory=DatedPrice("A1 memory", dec(a1["memory"]["usd_per_gb_hour"]), "GB-hour", a1["memory"]["as_of"], a1["memory"]["source"]),
        reserved_ip=OptionalPrice("reserved public IP", None if rip["usd_per_hour"] is None else dec(rip["usd_per_hour"]),
                                  "address-hour", rip["as_of"], rip["source"], bool(rip["verified"])),
        livekit_plans=tuple(
            LiveKitPlan(
                name=p["name"],
                usd_per_month=dec(p["usd_per_month"]),
                included_minutes=int(p["included_minutes"]),
                usd_per_minute_over=None if p["usd_per_minute_over"] is None else dec(p["usd_per_minute_over"]),
                note=p.get("note", ""),
            )
            for p in lk["plans"]
        ),
        livekit_as_of=lk["as_of"],
        livekit_source=lk["source"],
        livekit_verified=bool(lk["verified"]),
    )


def price_group(region: str) -> PriceGroup:
    """The outbound price group of an OCI region; `CostError` with a hint if unknown."""
    book = price_book()
    gid = book.region_group.get(region)
    if gid is None:
        raise CostError(
            "region",
            region,
            "not a public commercial OCI region with a known outbound price group",
            choices=sorted(book.region_group),
        )
    return book.groups[gid]


# ---------------------------------------------------------------------------
# Scenario and traffic
