"""The part of the Monitoring Query Language the emulator evaluates: one metric, an interval,
``=`` dimension filters, an optional ``grouping()``, and one statistic.

``CpuUtilization[5m]{resourceId = "ocid1.instance..."}.mean()`` -- the shape of every
query flowstack sends (Oracle's MQL reference has much more: joins, ``&&``/``||``,
arithmetic, ``absent()``; those get a 400 that says the emulator does not evaluate them).
Windows are aligned to multiples of the step since the epoch, and each aggregated
datapoint carries the start of its window (the emulator's choice; OCI's alignment is
not documented in the sources read).

>>> q = parse("VnicToNetworkBytes[1h]{resourceId = \\"ocid1.vnic.x\\"}.sum()")
>>> (q.metric, q.interval, q.dimensions, q.statistic)
('VnicToNetworkBytes', 3600, {'resourceId': 'ocid1.vnic.x'}, 'sum')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .state import ApiError

_QUERY = re.compile(
    r"^\s*(?P<metric>[A-Za-z][A-Za-z0-9_]*)\s*\[\s*(?P<n>\d+)(?P<unit>[mhd])\s*\]\s*"
    r"(?:\{(?P<dims>[^}]*)\})?\s*(?P<grouping>\.grouping\(\))?\s*"
    r"\.(?P<stat>mean|max|min|sum|count|rate|percentile)\(\s*(?P<arg>[0-9.]*)\s*\)\s*$"
)
_DIM = re.compile(r'^\s*(?P<key>[A-Za-z][A-Za-z0-9_.]*)\s*=\s*"(?P<value>[^"]*)"\s*$')
_UNIT = {"m": 60, "h": 3600, "d": 86400}


def seconds(text: str, what: str) -> int:
    """``5m`` / ``1h`` / ``1d`` as seconds, within OCI's ranges (1m-60m, 1h-24h, 1d)."""
    m = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if not m:
        raise ApiError(400, "InvalidParameter", f"{what} {text!r} is not an interval such as 1m, 5m, 1h or 1d")
    n, unit = int(m[1]), m[2]
    if not ((unit == "m" and 1 <= n <= 60) or (unit == "h" and 1 <= n <= 24) or (unit == "d" and n == 1)):
        raise ApiError(400, "InvalidParameter", f"{what} {text!r} is out of range (1m-60m, 1h-24h or 1d)")
    return n * _UNIT[unit]


@dataclass(frozen=True)
class Query:
    metric: str
    interval: int
    statistic: str
    percentile: float | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    grouping: bool = False


def parse(text: str) -> Query:
    """A `Query`, or an ApiError 400 naming the part the emulator does not evaluate."""
    m = _QUERY.match(text or "")
    if not m:
        raise ApiError(400, "InvalidParameter",
                       f"query {text!r}: the emulator evaluates Metric[interval]{{dim = \"value\", ...}}.statistic() only "
                       "(statistics: mean, max, min, sum, count, rate, percentile(p))")
    interval = seconds(m["n"] + m["unit"], "query interval")
    dims: dict[str, str] = {}
    for part in filter(str.strip, (m["dims"] or "").split(",")):
        d = _DIM.match(part)
        if not d:
            raise ApiError(400, "InvalidParameter", f"query dimension filter {part.strip()!r}: expected name = \"value\" (double quotes)")
        dims[d["key"]] = d["value"]
    pct = None
    if m["stat"] == "percentile":
        try:
            pct = float(m["arg"])
        except ValueError:
            pct = -1.0
        if not 0 < pct <= 1:
            raise ApiError(400, "InvalidParameter", f"percentile({m['arg']}) needs a fraction in (0, 1], e.g. percentile(0.95)")
    elif m["arg"]:
        raise ApiError(400, "InvalidParameter", f"{m['stat']}() takes no argument")
    return Query(m["metric"], interval, m["stat"], pct, dims, bool(m["grouping"]))


def statistic(values: list[float], query: Query, window: int) -> float:
    """One window's value; ``values`` is not empty."""
    stat = query.statistic
    if stat == "mean":
        return sum(values) / len(values)
    if stat == "max":
        return max(values)
    if stat == "min":
        return min(values)
    if stat == "sum":
        return sum(values)
    if stat == "count":
        return float(len(values))
    if stat == "rate":
        return sum(values) / window
    ordered = sorted(values)  # nearest-rank percentile
    rank = max(1, math.ceil((query.percentile or 1.0) * len(ordered)))
    return ordered[rank - 1]


def windows(start: float, end: float, step: int) -> list[float]:
    """Window starts: multiples of ``step`` from the first at or after ``start``, before ``end``."""
    first = math.ceil(start / step) * step
    count = max(0, math.ceil((end - first) / step))
    return [first + k * step for k in range(count)]
