"""What is wrong with a `scale:` section that the schema alone cannot see: one finding each,
turned into one ``Error:`` line by `config.parse_config`.

* Several nodes need the user's own host names: sslip.io names are derived from one server's
  address at its boot, while the shared names must point at the load balancer.
* ``always_free: true`` refuses a fleet larger than the Always Free allowance in force (the
  newest verified reading, data/always_free.yaml): OCPUs, memory and boot volumes summed over
  the nodes. A paid fleet needs ``always_free: false``; `flowstack cost` prices it.

Example: ``list(scale_findings(config))`` -> ``[]`` for a one-node config.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from generator.config.schema import StackConfig
from generator.core import limits


@dataclass(frozen=True)
class ScaleFinding:
    loc: tuple[Any, ...]
    value: Any
    problem: str
    expected: str


def _n(x: float) -> str:
    return f"{x:g}"


def fleet(config: StackConfig) -> dict[str, float]:
    """What the nodes take in all: OCPUs, memory (GB), boot volume (GB), reserved IPs.

    Example: ``fleet(config)["ocpus"]`` -> ``6.0`` for 3 nodes of 2 OCPUs.
    """
    n, inst = config.scale.nodes, config.instance
    return {"ocpus": float(n * inst.ocpus), "memory_gbs": float(n * inst.memory_gbs),
            "boot_gbs": float(n * inst.boot_volume_gbs), "reserved_ips": float(n if config.network.reserved_ip or n > 1 else 0)}


def scale_findings(config: StackConfig, on: dt.date | None = None) -> Iterator[ScaleFinding]:
    """Findings for ``config.scale``, most important first (none for one node)."""
    s = config.scale
    if not s.scaled:
        return
    if config.domains.auto:
        yield ScaleFinding(("scale", "nodes"), s.nodes,
                           "several nodes need your own host names (domains.mode custom): sslip.io names come from one "
                           "server's address, while the shared names must point at the load balancer",
                           "domains: {mode: custom, socket_host: ..., livekit_host: ...}, or scale.nodes: 1")
        return
    if s.redis.port in (config.livekit.port, config.socket.port, 80, 443, 22):
        yield ScaleFinding(("scale", "redis", "port"), s.redis.port, "Redis's port is already used by another service of the node",
                           "a free port such as 6379")
    if not config.always_free:
        return
    reading = [r for r in limits.in_force(on) if r.verified][-1]
    use = fleet(config)
    over = [(what, use[key], cap) for key, what, cap in (
        ("ocpus", "OCPUs", reading.a1_max_ocpus),
        ("memory_gbs", "GB of memory", reading.a1_max_memory_gbs),
        ("boot_gbs", "GB of boot volumes", reading.block_storage_gbs),
    ) if use[key] > cap]
    if over:
        what, total, cap = over[0]
        yield ScaleFinding(
            ("scale", "nodes"), s.nodes,
            f"{s.nodes} nodes take {_n(total)} {what} in all, over the Always Free allowance of {_n(cap)} "
            f"(as of {reading.effective}); the rest would be billed",
            "always_free: false to pay for it (`flowstack cost` shows the monthly price), or fewer/smaller nodes "
            f"(e.g. scale.nodes: 2 with instance.ocpus: {_n(reading.a1_max_ocpus / 2)})",
        )
