"""Pinned component versions as dated data (``data/versions.yaml``).

The LiveKit server version lives only there, with its release date, its source and the
clients it is known to serve; code reads it through these helpers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

from generator.core.yamlio import load_yaml


@lru_cache(maxsize=1)
def versions() -> dict[str, Any]:
    """The parsed versions file.

    Example: ``versions()["livekit_server"]["version"]`` -> ``"v1.13.5"``.
    """
    text = resources.files("generator").joinpath("data/versions.yaml").read_text("utf-8")
    data: dict[str, Any] = load_yaml(text)
    return data


def livekit_image() -> str:
    """The LiveKit server image the stack runs by default.

    Example: ``livekit_image()`` -> ``"livekit/livekit-server:v1.13.5"``.
    """
    return str(versions()["livekit_server"]["image"])


def caddy_l4_image() -> str:
    """The Caddy-with-layer4 image for ``turn.via_caddy``.

    Example: ``caddy_l4_image()`` -> ``"livekit/caddyl4:v2.11.4"``.
    """
    return str(versions()["caddy_l4"]["image"])


def _semver(tag: str) -> tuple[int, int, int] | None:
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?", tag)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def too_old_for_current_clients(image: str) -> str | None:
    """Why ``image``'s server is too old for today's livekit-client, or None.

    Only ``livekit/livekit-server:vX.Y.Z`` tags are judged; other images return None.

    Example: ``too_old_for_current_clients("livekit/livekit-server:v1.8.4")`` -> a message.
    """
    name, _, tag = image.rpartition(":")
    if not name.endswith("livekit/livekit-server"):
        return None
    have, need = _semver(tag), _semver(versions()["livekit_server"]["min_server_for_current_clients"])
    if have is None or need is None or have >= need:
        return None
    js = versions()["livekit_server"]["clients"]["livekit_client_js"]["min"]
    return (
        f"{image} is older than v{'.'.join(map(str, need))}: livekit-client >= {js} cannot connect to it "
        f"(livekit/client-sdk-js#1887); the stack pins {livekit_image()}"
    )
