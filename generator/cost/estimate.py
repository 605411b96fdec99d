"""Monthly traffic and cost of a stack, and of the same workload on LiveKit Cloud.

Every price comes from ``data/prices.yaml`` (each with its ``as_of`` date and source)
and every free allowance from ``data/always_free.yaml`` through `limits.in_force`; no
number that Oracle or LiveKit could change lives in this module.

Traffic model, the one the user's guide used for its cost tables (sections 2 and 9):

* participant minutes = spaces x users per space x hours per day x 60 x days per month
* egress GB = spaces x users x hours x days x Mbps x 3600 / 8 / 1000
  (Mbps x 3600 s / 8 = MB per user-hour, 675 MB at 1.5 Mbps; MB -> GB -> TB in steps of
  1,000, the decimal units of ``prices.yaml``'s ``gb_per_tb``).

Every user is counted as receiving ``mbps_per_user`` from the server for the whole
session: the SFU's downstream, which is what Oracle bills as outbound transfer.  For the
guide's unit of 1 space x 50 users x 9 h x 22 days this gives 594,000 minutes and
6,682.5 GB; the guide printed "6.6TB" (6.68 cut to one decimal) and multiplied that
rounded figure by the number of spaces (13.2 / 19.8 / 33 TB).  This module keeps the
exact figures; ``tests/cost/test_cost.py`` shows the guide's rounding on top of them.

Money is computed in `Decimal` so that, e.g., 3,365 GB x $0.025 is exactly $84.125 and
rounds to $84.13 the way a bill would, not to a float's $84.12.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from generator.core.errors import CostError
from generator.core.limits import LimitReading, in_force
from generator.core.prices import DatedPrice, LiveKitPlan, PriceBook, PriceGroup, price_book, price_group
from generator.core.prices import dec as _dec

from .reserved_ip import ReservedIpCost, reserved_ip_cost

CENT = Decimal("0.01")
# Limits on scenario inputs: beyond these the input is a typo, not a workload.
_HOURS_PER_DAY_MAX = 24
_DAYS_PER_MONTH_MAX = 31


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Scenario:
    """A usage pattern; the defaults are the user's guide's unit of one space."""

    spaces: int = 1
    users_per_space: int = 50
    hours_per_day: float = 9
    days_per_month: int = 22
    mbps_per_user: float = 1.5

    def __post_init__(self) -> None:
        whole = "must be a whole number of at least 1"
        checks: list[tuple[str, object, bool, str]] = [
            ("spaces", self.spaces, _whole(self.spaces) and self.spaces >= 1, whole),
            ("users_per_space", self.users_per_space, _whole(self.users_per_space) and self.users_per_space >= 1, whole),
            ("hours_per_day", self.hours_per_day, 0 < self.hours_per_day <= _HOURS_PER_DAY_MAX, "must be more than 0 and at most 24"),
            ("days_per_month", self.days_per_month, _whole(self.days_per_month) and 1 <= self.days_per_month <= _DAYS_PER_MONTH_MAX,
             "must be a whole number from 1 to 31"),
            ("mbps_per_user", self.mbps_per_user, self.mbps_per_user > 0, "must be more than 0"),
        ]
        for name, value, ok, problem in checks:
            if not ok:
                raise CostError(f"scenario.{name}", value, problem)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spaces": self.spaces,
            "users_per_space": self.users_per_space,
            "hours_per_day": self.hours_per_day,
            "days_per_month": self.days_per_month,
            "mbps_per_user": self.mbps_per_user,
        }


@dataclass(frozen=True)
class Traffic:
    user_hours: Decimal
    participant_minutes: Decimal
    egress_gb: Decimal
    gb_per_tb: Decimal

    @property
    def egress_tb(self) -> Decimal:
        return self.egress_gb / self.gb_per_tb


def traffic(scenario: Scenario) -> Traffic:
    """Monthly media minutes and server egress of a scenario (the guide's model, exact)."""
    gb_per_tb = price_book().gb_per_tb
    user_hours = (
        _dec(scenario.spaces) * _dec(scenario.users_per_space) * _dec(scenario.hours_per_day) * _dec(scenario.days_per_month)
    )
    # Mbps x 3600 s = megabits per hour; / 8 = MB; / 1000 = GB (decimal, as the guide's 675 MB/h).
    mb_per_user_hour = _dec(scenario.mbps_per_user) * 3600 / 8
    return Traffic(
        user_hours=user_hours,
        participant_minutes=user_hours * 60,
        egress_gb=user_hours * mb_per_user_hour / 1000,
        gb_per_tb=gb_per_tb,
    )


# ---------------------------------------------------------------------------
# Costs


@dataclass(frozen=True)
class EgressCost:
    group: PriceGroup
    group_assumed: str | None  # why the group is assumed, when the price list does not settle it
    free_gb: Decimal
    used_free_gb: Decimal
    billable_gb: Decimal
    usd: Decimal

    @property
    def free_used_pct(self) -> Decimal:
        return self.used_free_gb / self.free_gb * 100 if self.free_gb else Decimal(0)


@dataclass(frozen=True)
class ComputeCost:
    hours_per_month: Decimal
    ocpu_hours: Decimal
    free_ocpu_hours: Decimal
    over_ocpu_hours: Decimal
    ocpu_usd: Decimal
    gb_hours: Decimal
    free_gb_hours: Decimal
    over_gb_hours: Decimal
    memory_usd: Decimal

    @property
    def usd(self) -> Decimal:
        return self.ocpu_usd + self.memory_usd


@dataclass(frozen=True)
class OracleCost:
    """Oracle's bill under one Always Free limits reading."""

    limits: LimitReading
    egress: EgressCost
    compute: ComputeCost
    # The reserved public IP's month when its price is known (an unknown one is in no total).
    reserved_ip_usd: Decimal = Decimal(0)

    @property
    def usd(self) -> Decimal:
        return self.egress.usd + self.compute.usd + self.reserved_ip_usd


@dataclass(frozen=True)
class LiveKitQuote:
    plan: LiveKitPlan
    over_minutes: Decimal
    usd: Decimal | None  # None: the plan's hard quota cannot carry the workload


@dataclass(frozen=True)
class CostReport:
    region: str
    ocpus: Decimal
    memory_gbs: Decimal
    scenario: Scenario
    on: dt.date
    traffic: Traffic
    # One entry per limits reading in force: the verified one first, then a newer
    # unverified one if there is one (see limits.in_force).
    oracle: tuple[OracleCost, ...]
    livekit: tuple[LiveKitQuote, ...]
    livekit_as_of: dt.date
    livekit_source: str
    livekit_verified: bool
    a1_ocpu_price: DatedPrice
    a1_memory_price: DatedPrice
    reserved_ip: ReservedIpCost | None = None  # None: network.reserved_ip is false

    @property
    def prices(self) -> tuple[DatedPrice, ...]:
        """The Oracle unit prices used (LiveKit's plans carry their own date)."""
        return (self.oracle[0].egress.group.price, self.a1_ocpu_price, self.a1_memory_price)

    @property
    def livekit_cheapest(self) -> LiveKitQuote | None:
        able = [q for q in self.livekit if q.usd is not None]
        return min(able, key=lambda q: q.usd) if able else None  # type: ignore[arg-type, return-value]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: money rounded to cents, volumes exact."""
        t = self.traffic
        cheapest = self.livekit_cheapest
        return {
            "region": self.region,
            "instance": {"ocpus": _jnum(self.ocpus), "memory_gbs": _jnum(self.memory_gbs)},
            "scenario": self.scenario.to_dict(),
            "on": self.on.isoformat(),
            "traffic": {
                "user_hours": _jnum(t.user_hours),
                "participant_minutes": _jnum(t.participant_minutes),
                "egress_gb": _jnum(t.egress_gb),
                "egress_tb": _jnum(t.egress_tb),
                "gb_per_tb": _jnum(t.gb_per_tb),
            },
            "oracle": [_oracle_dict(o) for o in self.oracle],
            "livekit_cloud": self._livekit_dict(cheapest),
            "prices": [p.to_dict() for p in self.prices],
            "reserved_ip": self.reserved_ip.to_dict() if self.reserved_ip else None,
        }

    def _livekit_dict(self, cheapest: LiveKitQuote | None) -> dict[str, Any]:
        return {
            "as_of": self.livekit_as_of.isoformat(),
            "source": self.livekit_source,
            "verified": self.livekit_verified,
            "plans": [
                {
                    "name": q.plan.name,
                    "usd_per_month": _money(q.plan.usd_per_month),
                    "included_minutes": q.plan.included_minutes,
                    "usd_per_minute_over": None if q.plan.usd_per_minute_over is None else float(q.plan.usd_per_minute_over),
                    "over_minutes": _jnum(q.over_minutes),
                    "usd": None if q.usd is None else _money(q.usd),
                }
                for q in self.livekit
            ],
            "cheapest_plan": cheapest.plan.name if cheapest else None,
            "usd": _money(cheapest.usd) if cheapest and cheapest.usd is not None else None,
        }



def _oracle_dict(o: OracleCost) -> dict[str, Any]:
    """One Oracle figure of `CostReport.to_dict`."""
    return {
        "limits": {
            "id": o.limits.id,
            "verified": o.limits.verified,
            "effective": o.limits.effective.isoformat(),
            "source": o.limits.source,
        },
        "egress": {
            "price_group": o.egress.group.id,
            "price_group_name": o.egress.group.name,
            "part_number": o.egress.group.part_number,
            "price_group_assumed": o.egress.group_assumed,
            "usd_per_gb": float(o.egress.group.price.usd),
            "free_gb": _jnum(o.egress.free_gb),
            "free_used_gb": _jnum(o.egress.used_free_gb),
            "free_used_pct": float(round_to(o.egress.free_used_pct, Decimal("0.1"))),
            "billable_gb": _jnum(o.egress.billable_gb),
            "usd": _money(o.egress.usd),
        },
        "compute": {
            "hours_per_month": _jnum(o.compute.hours_per_month),
            "ocpu_hours": _jnum(o.compute.ocpu_hours),
            "free_ocpu_hours": _jnum(o.compute.free_ocpu_hours),
            "over_ocpu_hours": _jnum(o.compute.over_ocpu_hours),
            "ocpu_usd": _money(o.compute.ocpu_usd),
            "gb_hours": _jnum(o.compute.gb_hours),
            "free_gb_hours": _jnum(o.compute.free_gb_hours),
            "over_gb_hours": _jnum(o.compute.over_gb_hours),
            "memory_usd": _money(o.compute.memory_usd),
            "usd": _money(o.compute.usd),
        },
        "usd": _money(o.usd),
    }


def round_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded half-up to a multiple of ``step``, as a bill rounds."""
    return value.quantize(step, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> float:
    return float(round_to(value, CENT))


def _jnum(value: Decimal) -> int | float:
    """A volume for JSON: an int when whole (594000, not 594000.0), else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _over(used: Decimal, free: Decimal) -> Decimal:
    return max(used - free, Decimal(0))


def estimate(region: str, ocpus: float, memory_gbs: float, scenario: Scenario, on: dt.date | None = None,
             reserved_ip: bool = False) -> CostReport:
    """Monthly cost of ``scenario`` on an A1 VM of the given size in ``region``.

    ``on`` picks the Always Free limits in force (default today).  When a newer,
    unverified limits reading is in force as well, the report holds one Oracle figure
    per reading, the verified one first.  ``reserved_ip`` (config ``network.reserved_ip``)
    adds the reserved public IP: to the totals when its price is known, else only as a line.
    """
    on = on or dt.date.today()
    book = price_book()
    group = price_group(region)
    readings = in_force(on)
    if not readings:
        raise CostError("date", on.isoformat(), "no Always Free limits reading is in force on that date (see generator/data/always_free.yaml)")
    tr = traffic(scenario)
    cpu, mem = _dec(ocpus), _dec(memory_gbs)
    if cpu <= 0 or mem <= 0:
        raise CostError("instance", f"{ocpus} OCPU / {memory_gbs} GB", "OCPUs and memory must be more than 0")

    rip = reserved_ip_cost(book) if reserved_ip else None
    oracle = [_oracle_cost(reading, book, region, group, tr, cpu, mem, (rip.usd if rip else None) or Decimal(0))
              for reading in readings]
    quotes = [_livekit_quote(plan, tr) for plan in book.livekit_plans]

    return CostReport(
        region=region,
        ocpus=cpu,
        memory_gbs=mem,
        scenario=scenario,
        on=on,
        traffic=tr,
        oracle=tuple(oracle),
        livekit=tuple(quotes),
        livekit_as_of=book.livekit_as_of,
        livekit_source=book.livekit_source,
        livekit_verified=book.livekit_verified,
        a1_ocpu_price=book.a1_ocpu,
        a1_memory_price=book.a1_memory,
        reserved_ip=rip,
    )


def _oracle_cost(reading: LimitReading, book: PriceBook, region: str, group: PriceGroup, tr: Traffic,
                 cpu: Decimal, mem: Decimal, reserved_ip_usd: Decimal) -> OracleCost:
    """Oracle's bill under one limits reading: outbound transfer and A1 hours beyond the free allowance."""
    free_gb = _dec(reading.outbound_tb_per_month) * book.gb_per_tb
    billable = _over(tr.egress_gb, free_gb)
    egress = EgressCost(
        group=group,
        group_assumed=book.region_assumed.get(region),
        free_gb=free_gb,
        used_free_gb=min(tr.egress_gb, free_gb),
        billable_gb=billable,
        usd=billable * group.price.usd,
    )
    ocpu_hours = cpu * book.hours_per_month
    gb_hours = mem * book.hours_per_month
    free_ocpu, free_gbh = _dec(reading.a1_ocpu_hours_per_month), _dec(reading.a1_gb_hours_per_month)
    over_ocpu, over_gbh = _over(ocpu_hours, free_ocpu), _over(gb_hours, free_gbh)
    compute = ComputeCost(
        hours_per_month=book.hours_per_month,
        ocpu_hours=ocpu_hours,
        free_ocpu_hours=free_ocpu,
        over_ocpu_hours=over_ocpu,
        ocpu_usd=over_ocpu * book.a1_ocpu.usd,
        gb_hours=gb_hours,
        free_gb_hours=free_gbh,
        over_gb_hours=over_gbh,
        memory_usd=over_gbh * book.a1_memory.usd,
    )
    return OracleCost(limits=reading, egress=egress, compute=compute, reserved_ip_usd=reserved_ip_usd)


def _livekit_quote(plan: LiveKitPlan, tr: Traffic) -> LiveKitQuote:
    """One LiveKit Cloud plan for the same minutes; no price when a hard-limited plan cannot carry them."""
    over_min = _over(tr.participant_minutes, _dec(plan.included_minutes))
    if plan.usd_per_minute_over is None:
        usd = plan.usd_per_month if over_min == 0 else None
    else:
        usd = plan.usd_per_month + over_min * plan.usd_per_minute_over
    return LiveKitQuote(plan=plan, over_minutes=over_min, usd=usd)


# ---------------------------------------------------------------------------
# Table
