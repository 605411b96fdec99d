"""The reserved public IP's part of a cost estimate: its dated price (or that none is known) and
how many a region allows.

The price lives in ``data/prices.yaml`` (``reserved_public_ip``), the limits in
``data/oci_limits.yaml`` (``reserved_public_ips_*``); nothing here is a number Oracle could
change. An unknown price is never counted as zero: the estimate leaves it out of the totals
and says so, marked UNVERIFIED.

>>> c = reserved_ip_cost()
>>> c.usd is None or c.usd >= 0
True
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from generator.config.inputguard import Limit, limit
from generator.core.prices import OptionalPrice, PriceBook, price_book


@dataclass(frozen=True)
class ReservedIpCost:
    """One reserved public IP for a month: its price (None when unknown) and the limits."""

    price: OptionalPrice
    hours_per_month: Decimal
    per_region: Limit
    always_free: Limit

    @property
    def usd(self) -> Decimal | None:
        """Monthly price, or None when no price is known (so it is not in any total)."""
        return None if self.price.usd is None else self.price.usd * self.hours_per_month

    @property
    def mark(self) -> str:
        return "verified" if self.price.verified and self.price.usd is not None else "UNVERIFIED"

    def to_dict(self) -> dict[str, Any]:
        return {
            "price": self.price.to_dict(),
            "usd_per_month": None if self.usd is None else float(self.usd),
            "in_totals": self.usd is not None,
            "limit_per_region": {"max": self.per_region.max, "verified": self.per_region.verified, "source": self.per_region.source},
            "always_free_limit": {"max": self.always_free.max, "verified": self.always_free.verified,
                                  "source": self.always_free.source},
        }


def reserved_ip_cost(book: PriceBook | None = None) -> ReservedIpCost:
    """The reserved IP's month at the book's price and hours (default: ``data/prices.yaml``).

    >>> reserved_ip_cost().per_region.max
    50
    """
    book = book or price_book()
    return ReservedIpCost(price=book.reserved_ip, hours_per_month=book.hours_per_month,
                          per_region=limit("reserved_public_ips_per_region"), always_free=limit("reserved_public_ips_always_free"))


def reserved_ip_lines(cost: ReservedIpCost, money: Any, unit_price: Any) -> list[str]:
    """The table's section (``money``/``unit_price`` format Decimals as the rest of the table does).

    >>> reserved_ip_lines(reserved_ip_cost(), str, str)[0]
    'Reserved public IP (network.reserved_ip: true, the stable address)'
    """
    p = cost.price
    if cost.usd is None:
        price = f"unknown: no price found as of {p.as_of.isoformat()}; {cost.mark}, not in the totals above"
    else:
        price = (f"{unit_price(p.usd)}/{p.unit} x {cost.hours_per_month:,} h = {money(cost.usd)}/month "
                 f"({cost.mark}, as of {p.as_of.isoformat()}; in the totals above)")
    free = (f"{cost.always_free.max:g}" if cost.always_free.max is not None else "not stated") + (
        "" if cost.always_free.verified else " (unverified)")
    return [
        "Reserved public IP (network.reserved_ip: true, the stable address)",
        f"  price                {price}",
        f"  source               {p.source}",
        f"  limit                {cost.per_region.max:g} per region ({'verified' if cost.per_region.verified else 'unverified'}); "
        f"Always Free tenancies: {free}",
        "  instead              network.reserved_ip: false keeps an ephemeral IP, which changes when the instance is replaced",
    ]
