"""The `scale:` section of the config: how many nodes, and the Redis that joins them.

Every node has the size of ``instance`` (ocpus, memory_gbs): LiveKit puts a whole room on one
node and picks the least loaded node for a new room, so nodes of one size share rooms evenly,
and one number per size cannot disagree with another (docs/scale-out.md, "Config shape").

Example: ``Scale().nodes`` -> ``1``; ``Scale(nodes=3).scaled`` -> ``True``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from generator.config.base import Model

# OCI's Network Load Balancer takes far more backends; the bound keeps a typo (nodes: 300)
# from pricing or planning a fleet nobody meant. Raise it here when someone needs more.
MAX_NODES = 12


class ScaleRedis(Model):
    persistence: Literal["aof", "off"] = Field(
        "aof",
        description="aof: Redis appends every write to a file (fsync each second), so a Redis restart keeps LiveKit's "
        "room-to-node map and live rooms stay reachable through every node. off: nothing on disk; after a Redis "
        "restart a room rejoined through another node may start a second copy of the room.",
    )
    maxmemory_mb: int = Field(
        256, ge=32, le=4096,
        description="Memory cap of Redis on node 1 in MB (LiveKit's room state and Socket.IO's stream need a few MB).",
    )
    port: int = Field(6379, ge=1024, le=65535, description="Redis port on node 1's private address (reachable only inside the VCN).")


class Scale(Model):
    nodes: int = Field(
        1, ge=1, le=MAX_NODES,
        description="Number of servers. 1: today's single server, nothing else changes. 2 or more: every node the size of "
        "`instance`, each with its own reserved public IP for media, behind OCI's Network Load Balancer, joined by Redis on node 1.",
    )
    redis: ScaleRedis = Field(default_factory=ScaleRedis, description="The Redis on node 1 that LiveKit and Socket.IO share (nodes >= 2).")
    quota: bool = Field(
        False,
        description="Also create an OCI quota policy capping the compartment's A1 OCPUs at nodes x instance.ocpus "
        "(needs a tenancy-level policy right; nothing more can then be started there by mistake).",
    )
    drain_seconds: int = Field(
        600, ge=30, le=7200,
        description="How long a node's LiveKit may drain its rooms (SIGTERM) before a day-2 change restarts it; nodes apply one after another.",
    )

    @property
    def scaled(self) -> bool:
        """True when the stack has more than one node."""
        return self.nodes > 1
