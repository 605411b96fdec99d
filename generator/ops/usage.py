"""Figures from metric datapoints: now / 7-day p95, month-to-date egress, month-end projection, overage.

The free allowance comes from the dated limits (`limits.in_force`, the strictest reading in
force, with its verified mark) and the price from the cost layer (`prices.price_group` of
the stack's region).  Decimal units, as the price data: 1 TB = 1,000 GB = 10^12 bytes.

>>> p95([1.0, 2.0, 3.0, 4.0, 100.0])
100.0
>>> month_bounds(dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc))[2]
31
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from generator.core.limits import in_force
from generator.core.prices import DatedPrice, price_book, price_group

BYTES_PER_GB = 10**9


def p95(values: list[float]) -> float | None:
    """Nearest-rank 95th percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


def month_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime, int]:
    """(start of this UTC month, start of the next, days in the month)."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(now.year, now.month)[1]
    return start, start + dt.timedelta(days=days), days


@dataclass(frozen=True)
class Egress:
    """Outbound bytes this month and where the pace leads."""

    now: dt.datetime
    daily_gb: tuple[float, ...]  # day 1 .. today (UTC)
    days_in_month: int
    free_gb: float
    free_verified: bool
    free_source: str
    price: DatedPrice
    price_group: str

    @property
    def month_to_date_gb(self) -> float:
        return sum(self.daily_gb)

    @property
    def elapsed_fraction(self) -> float:
        start, end, _ = month_bounds(self.now)
        return max((self.now - start).total_seconds(), 1.0) / (end - start).total_seconds()

    @property
    def projected_gb(self) -> float:
        return self.month_to_date_gb / self.elapsed_fraction

    @property
    def pace_gb_per_day(self) -> float:
        return self.free_gb / self.days_in_month

    @property
    def overage_gb(self) -> float:
        return max(self.projected_gb - self.free_gb, 0.0)

    @property
    def overage_usd(self) -> float:
        return float(Decimal(str(round(self.overage_gb, 3))) * self.price.usd)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month_to_date_gb": round(self.month_to_date_gb, 3), "projected_gb": round(self.projected_gb, 3),
            "free_gb": self.free_gb, "free_verified": self.free_verified, "free_source": self.free_source,
            "projected_pct_of_free": round(100 * self.projected_gb / self.free_gb, 1) if self.free_gb else None,
            "over_pace": self.projected_gb > self.free_gb, "overage_gb": round(self.overage_gb, 3),
            "overage_usd": round(self.overage_usd, 2), "price": self.price.to_dict(), "price_group": self.price_group,
            "daily_gb": [round(v, 3) for v in self.daily_gb], "pace_gb_per_day": round(self.pace_gb_per_day, 3),
            "days_in_month": self.days_in_month,
        }


def daily_totals(points: list[tuple[dt.datetime, float]], now: dt.datetime) -> tuple[float, ...]:
    """Hourly byte sums -> GB per UTC day of this month, day 1 .. today."""
    start, _, _ = month_bounds(now)
    days = [0.0] * now.day
    for t, value in points:
        t = t.astimezone(dt.timezone.utc)
        if start <= t <= now:
            days[t.day - 1] += value / BYTES_PER_GB
    return tuple(days)


def egress(points: list[tuple[dt.datetime, float]], now: dt.datetime, region: str) -> Egress:
    """`Egress` of this month from hourly ``VnicToNetworkBytes`` sums; `CostError` for an unknown region."""
    readings = in_force(now.date())
    strictest = min(readings, key=lambda r: r.outbound_tb_per_month)
    book = price_book()
    group = price_group(region)
    return Egress(
        now=now, daily_gb=daily_totals(points, now), days_in_month=month_bounds(now)[2],
        free_gb=float(Decimal(str(strictest.outbound_tb_per_month)) * book.gb_per_tb),
        free_verified=any(r.verified for r in readings if r.outbound_tb_per_month == strictest.outbound_tb_per_month),
        free_source=f"{strictest.id}: {strictest.source.strip()}", price=group.price, price_group=group.name,
    )


def network_pct(points: list[tuple[dt.datetime, float]], bandwidth_gbps: float | None, since: dt.datetime) -> list[float]:
    """Hourly outbound use as percent of the shape's bandwidth (flowstack's reading of "network utilization")."""
    if not bandwidth_gbps:
        return []
    return [100 * value * 8 / 3600 / (bandwidth_gbps * 1e9) for t, value in points if t >= since]
