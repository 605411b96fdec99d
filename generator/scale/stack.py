"""What several nodes mean for the rest of the stack: node 1's VCN name, where Redis runs, and
LiveKit's ``redis:`` section. What they add to the emitted stack (``scale.tf``, the Redis pieces of
the server files) is generator/scale/server.py.

Redis runs on node 1 as a compose service (docs/scale-out.md says why), reached by every node
through node 1's VCN DNS name, ``server.public.<vcn label>.oraclevcn.com``: a name known before
anything exists, so every node's bundle is the same file set and node 1's metadata does not
depend on node 1's own address (a cycle Terraform would refuse).

Example: ``redis_host(config)`` -> ``"server.public.demo.oraclevcn.com"`` for a stack named demo.
"""

from __future__ import annotations

from typing import Any

from generator.config.schema import StackConfig


def vcn_label(name: str) -> str:
    """The VCN's DNS label (the same rule as render.dns_label: letters and digits, <= 15)."""
    return "".join(ch for ch in name if ch.isalnum())[:15]


def redis_host(config: StackConfig) -> str:
    """Node 1's name inside the VCN (hostname_label server, subnet label public)."""
    return f"server.public.{vcn_label(config.name)}.oraclevcn.com"


def livekit_redis(config: StackConfig, password: str, host: str | None = None) -> dict[str, Any]:
    """livekit.yaml's ``redis:`` section: LiveKit's distributed mode (``host``: `redis_host`, when derived already)."""
    return {"address": f"{host or redis_host(config)}:{config.scale.redis.port}", "password": password}
