"""The cost of a stack with several nodes (issue 25): what `flowstack cost` adds below its table
and what `flowstack validate` prints as its "scale cost" line, before anything is applied.

Every node has the size of ``instance``, so the compute of the fleet is the estimate of one
VM of ``nodes x ocpus`` and ``nodes x memory`` against the free A1 hours (the allowance is per
tenancy, not per VM). The load balancer's price and the reserved IPs' come from
``data/prices.yaml``; an unknown or unverified price says so and is never counted as zero.

Example: ``fleet_cost(config, Scenario()).nodes`` -> ``3`` for ``scale.nodes: 3``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from generator.config.schema import StackConfig
from generator.core.prices import price_book

from ..checks.report import PASS, WARN, CheckResult
from .estimate import CostReport, Scenario, estimate


@dataclass(frozen=True)
class NlbPrice:
    usd_per_hour: Decimal
    verified: bool
    as_of: dt.date
    source: str


@lru_cache(maxsize=1)
def nlb_price() -> NlbPrice:
    """The load balancer's dated price (data/prices.yaml ``network_load_balancer``)."""
    raw = yaml.safe_load(resources.files("generator").joinpath("data/prices.yaml").read_text("utf-8"))["network_load_balancer"]
    return NlbPrice(Decimal(str(raw["usd_per_hour"])), bool(raw["verified"]), raw["as_of"], str(raw["source"]))


@dataclass(frozen=True)
class FleetCost:
    nodes: int
    ocpus: Decimal
    memory_gbs: Decimal
    report: CostReport  # the whole fleet's compute and egress, per limits reading in force
    nlb_usd: Decimal
    reserved_ips: int  # one per node (media) and one for the load balancer

    @property
    def usd(self) -> Decimal:
        """Monthly total of the strictest reading in force (the last), with the load balancer and
        every reserved IP (the estimate holds one; an unknown price counts in no total)."""
        rip = price_book().reserved_ip.usd
        more_ips = (rip * price_book().hours_per_month * (self.reserved_ips - 1)) if rip is not None and self.reserved_ips > 1 else Decimal(0)
        return self.report.oracle[-1].usd + self.nlb_usd + more_ips

    def lines(self) -> list[str]:
        nlb, rip = nlb_price(), price_book().reserved_ip
        worst = self.report.oracle[-1]
        out = [
            f"Several nodes (scale.nodes: {self.nodes}): {self.nodes} x {self.ocpus / self.nodes:g} OCPU / "
            f"{self.memory_gbs / self.nodes:g} GB = {self.ocpus:g} OCPU / {self.memory_gbs:g} GB of A1 in all "
            "(the Always Free hours are per tenancy, not per VM)",
            f"  compute over the free hours: ${worst.compute.usd:,.2f}/month; outbound over the free allowance: "
            f"${worst.egress.usd:,.2f}/month (limits reading {worst.limits.id}{'' if worst.limits.verified else ', unverified'})",
            f"  Network Load Balancer: ${self.nlb_usd:,.2f}/month "
            f"({'verified' if nlb.verified else 'UNVERIFIED'}, as of {nlb.as_of.isoformat()}: {nlb.source.strip()})",
            f"  reserved public IPs: {self.reserved_ips} (one per node for media, one for the load balancer): "
            + ("no price known, UNVERIFIED, not in the total" if rip.usd is None
               else f"${rip.usd * price_book().hours_per_month * self.reserved_ips:,.2f}/month"),
            f"  total: ${self.usd:,.2f}/month; scale.quota: true caps the compartment's A1 OCPUs at {self.ocpus:g} "
            "(an OCI quota policy) so nothing more can be billed by mistake",
        ]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "ocpus": float(self.ocpus), "memory_gbs": float(self.memory_gbs),
                "nlb_usd_per_month": float(self.nlb_usd),
                "reserved_ips": self.reserved_ips, "usd_per_month": float(self.usd)}


def fleet_cost(config: StackConfig, scenario: Scenario, on: dt.date | None = None) -> FleetCost:
    """The monthly cost of ``config``'s nodes for ``scenario`` (also for one node)."""
    n = config.scale.nodes
    ocpus, mem = Decimal(str(config.instance.ocpus)) * n, Decimal(str(config.instance.memory_gbs)) * n
    report = estimate(config.region, float(ocpus), float(mem), scenario, on=on, reserved_ip=config.network.reserved_ip or n > 1)
    nlb = nlb_price().usd_per_hour if n > 1 else Decimal(0)
    return FleetCost(nodes=n, ocpus=ocpus, memory_gbs=mem, report=report, nlb_usd=nlb * price_book().hours_per_month,
                     reserved_ips=n + 1 if n > 1 else int(config.network.reserved_ip))


def check_scale_cost(config: StackConfig | None, on: dt.date | None = None) -> CheckResult | None:
    """`validate`'s "scale cost" line for a config with several nodes (None otherwise)."""
    if config is None or not config.scale.scaled:
        return None
    fc = fleet_cost(config, Scenario(), on)
    status = PASS if fc.usd == 0 else WARN
    return CheckResult("scale cost", status, f"{fc.nodes} nodes: ${fc.usd:,.2f}/month at the guide's unit of 1 space "
                       "(`flowstack cost` for your own numbers)", fc.lines())
