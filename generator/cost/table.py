"""The cost report as a fixed-width table for the terminal.

>>> format_table(estimate("ap-chuncheon-1", 4, 24, Scenario())).splitlines()[0]  # doctest: +SKIP
'...'
"""

from __future__ import annotations

from decimal import Decimal

from generator.core.prices import dec as _dec

from .estimate import CENT, CostReport, round_to
from .reserved_ip import reserved_ip_lines


def _num(value: Decimal, places: int = 2) -> str:
    """Thousands separators, at most ``places`` decimals, no trailing zeros."""
    text = f"{round_to(value, Decimal(1).scaleb(-places)):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _usd(value: Decimal) -> str:
    return f"${round_to(value, CENT):,.2f}"


def _unit_price(value: Decimal) -> str:
    # Unit prices keep every digit the price list gives ($0.0085, $0.0005).
    return "$" + format(value.normalize(), "f")


def _plural(n: int | float, word: str) -> str:
    return f"{_num(_dec(n))} {word}{'' if n == 1 else 's'}"


def _align(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(len(r) for r in rows))]
    out = []
    for r in rows:
        cells = [c.ljust(widths[i]) for i, c in enumerate(r)]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def format_table(report: CostReport) -> str:
    """The report as the plain-text table `flowstack cost` prints."""
    s, t = report.scenario, report.traffic
    group = report.oracle[0].egress.group
    lines = [
        f"Cost estimate for {report.region}, A1 {_num(report.ocpus)} OCPU / {_num(report.memory_gbs)} GB, on {report.on.isoformat()}",
        f"Scenario: {_plural(s.spaces, 'space')} x {_plural(s.users_per_space, 'user')}, "
        f"{_num(_dec(s.hours_per_day))} h/day x {_num(_dec(s.days_per_month))} days/month, {_num(_dec(s.mbps_per_user))} Mbps per user",
        "",
        "Traffic per month",
        *_align(
            [
                ["media minutes", f"{_num(t.participant_minutes, 0)} participant-minutes"],
                ["egress", f"{_num(t.egress_tb)} TB ({_num(t.egress_gb)} GB; 1 TB = {_num(t.gb_per_tb, 0)} GB)"],
            ]
        ),
        "",
        f"Oracle Cloud, {report.region}: outbound price group {group.name} ({group.part_number}), {_unit_price(group.price.usd)}/GB",
    ]
    lines += _oracle_lines(report)
    if report.reserved_ip:
        lines += ["", *reserved_ip_lines(report.reserved_ip, _usd, _unit_price)]
    lines += _livekit_lines(report)
    lines += _price_lines(report)
    return "\n".join(lines)


def _oracle_lines(report: CostReport) -> list[str]:
    """One column per limits reading in force, the verified one first."""
    t, group = report.traffic, report.oracle[0].egress.group
    lines: list[str] = []
    assumed = report.oracle[0].egress.group_assumed
    if assumed:
        lines.append(f"  price group assumed: {assumed}")
    hours = _num(report.oracle[0].compute.hours_per_month, 0)
    labels = [
        "limits",
        "",
        "free outbound",
        "free allowance used",
        "egress over allowance",
        f"A1 OCPU-hours ({_num(report.ocpus)} x {hours} h)",
        "A1 OCPU-hours over",
        f"A1 GB-hours ({_num(report.memory_gbs)} x {hours} h)",
        "A1 GB-hours over",
        "Oracle total",
    ]
    columns = []
    for o in report.oracle:
        e, c = o.egress, o.compute
        columns.append(
            [
                o.limits.id,
                "verified" if o.limits.verified else "UNVERIFIED",
                f"{_num(e.free_gb / t.gb_per_tb)} TB",
                f"{_num(e.used_free_gb / t.gb_per_tb)} TB ({_num(e.free_used_pct, 1)}%)",
                f"{_num(e.billable_gb)} GB x {_unit_price(group.price.usd)} = {_usd(e.usd)}",
                f"{_num(c.ocpu_hours)} of {_num(c.free_ocpu_hours)} free",
                f"{_num(c.over_ocpu_hours)} x {_unit_price(report.a1_ocpu_price.usd)} = {_usd(c.ocpu_usd)}",
                f"{_num(c.gb_hours)} of {_num(c.free_gb_hours)} free",
                f"{_num(c.over_gb_hours)} x {_unit_price(report.a1_memory_price.usd)} = {_usd(c.memory_usd)}",
                f"{_usd(o.usd)}/month",
            ]
        )
    rows = [[label, *(col[i] for col in columns)] for i, label in enumerate(labels)]
    lines += _align(rows)
    unverified = [o.limits.id for o in report.oracle if not o.limits.verified]
    if unverified:
        lines.append(f"  {', '.join(unverified)}: reported, not verified; plan for either column.")
    return lines


def _livekit_lines(report: CostReport) -> list[str]:
    lines = ["", "LiveKit Cloud, same workload (participant minutes only, as the user's guide priced it)"]
    lk_rows = []
    for q in report.livekit:
        p = q.plan
        if p.usd_per_minute_over is None:
            what = (
                f"free quota of {_num(_dec(p.included_minutes), 0)} min: {_usd(p.usd_per_month)}/month"
                if q.usd is not None
                else f"free quota of {_num(_dec(p.included_minutes), 0)} min, hard limit: cannot carry this workload"
            )
        else:
            what = (
                f"{_usd(p.usd_per_month)} incl. {_num(_dec(p.included_minutes), 0)} min + "
                f"{_num(q.over_minutes, 0)} min x {_unit_price(p.usd_per_minute_over)} = {_usd(q.usd)}/month"  # type: ignore[arg-type]
            )
        lk_rows.append([p.name, what])
    cheapest = report.livekit_cheapest
    if cheapest is not None:
        lk_rows.append(["cheapest", f"{cheapest.plan.name}, {_usd(cheapest.usd)}/month"])  # type: ignore[arg-type]
    lines += _align(lk_rows)
    return lines


def _price_lines(report: CostReport) -> list[str]:
    lines = ["", "Prices used"]
    price_rows = []
    for price in report.prices:
        price_rows.append([price.item, f"{_unit_price(price.usd)}/{price.unit}", f"as of {price.as_of.isoformat()}"])
    rip = report.reserved_ip
    if rip:
        shown = "unknown" if rip.price.usd is None else f"{_unit_price(rip.price.usd)}/{rip.price.unit}"
        price_rows.append([rip.price.item, shown, f"as of {rip.price.as_of.isoformat()}, {rip.mark}"])
    price_rows.append(
        [
            "LiveKit Cloud plans",
            "see above",
            f"as of {report.livekit_as_of.isoformat()}"
            + ("" if report.livekit_verified else ", as given by the user's guide, not re-verified"),
        ]
    )
    lines += _align(price_rows)
    lines += ["", "Always Free limits used"]
    lines += _align(
        [
            [o.limits.id, "verified" if o.limits.verified else "UNVERIFIED", f"effective {o.limits.effective.isoformat()}"]
            for o in report.oracle
        ]
    )
    return lines
