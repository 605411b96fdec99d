"""Region facts as dated data: each OCI region's time zone (``data/regions.yaml``) and the
sizing bounds OCI accepts (``data/shape_bounds.yaml``).

Example: ``region_timezone("ap-chuncheon-1")`` -> ``"Asia/Seoul"``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from generator.core.yamlio import load_yaml


def _data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(resources.files("generator").joinpath(f"data/{name}").read_text("utf-8"))
    return data


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    return {str(k): str(v) for k, v in _data("regions.yaml")["zones"].items()}


def region_timezone(region: str) -> str | None:
    """The IANA zone of ``region``'s city, or None when the table does not know the region.

    Example: ``region_timezone("us-ashburn-1")`` -> ``"America/New_York"``.
    """
    return _zones().get(region)


def known_regions() -> list[str]:
    """Every region identifier the table knows, sorted (for "did you mean" hints)."""
    return sorted(_zones())


@lru_cache(maxsize=1)
def bounds() -> dict[str, tuple[float, float]]:
    """(minimum, maximum) OCI accepts for each sizing/placement variable.

    Example: ``bounds()["boot_volume_gbs"]`` -> ``(47, 32768)``.
    """
    return {str(k): (v[0], v[1]) for k, v in _data("shape_bounds.yaml")["bounds"].items()}
