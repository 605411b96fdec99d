"""The built-in sample Socket.IO app (templates/sample-app/), as the server receives it.

When a config gives neither ``socket.image`` nor ``socket.git``, the config bundle carries
these files (generator/emit/bundle.py; the agent writes them under ``SAMPLE_APP_DIR``, service
``socket-build``) and docker compose builds them there. The bundle is gzip-compressed as a
whole in the instance metadata, so they count against OCI's 32,000-byte metadata limit,
which the resource-manager-fit check measures. The wheel carries the
files (templates/ is force-included as generator/templates, dotfiles too).

Example:
    >>> sorted(sample_app_files())[:2]
    ['.dockerignore', 'Dockerfile']
"""

from __future__ import annotations

from pathlib import Path

from generator.core.contract import APP_DIR
from generator.core.errors import RenderError
from generator.core.templating import templates_dir

SAMPLE_APP_DIR = f"{APP_DIR}/sample-app"
# Every file of the app, dotfiles included; nothing else under templates/sample-app is sent
# (a local node_modules from a test run must never reach the server).
SAMPLE_APP_FILES = (".dockerignore", "Dockerfile", "package-lock.json", "package.json", "server.js")


def sample_app_source() -> Path:
    """templates/sample-app in the package (wheel) or the checkout."""
    return templates_dir() / "sample-app"


def sample_app_files() -> dict[str, bytes]:
    """``{name: bytes}`` of the sample app, in a fixed order.

    Example:
        >>> b"socket.io" in sample_app_files()["package.json"]
        True
    """
    root = sample_app_source()
    out = {}
    for name in SAMPLE_APP_FILES:
        try:
            out[name] = (root / name).read_bytes()
        except FileNotFoundError:
            raise RenderError(f"the sample app file {root / name} is missing from the package: reinstall flowstack") from None
    return out
