"""The sample app's files as shipped (templates/sample-app): what the server's
``docker compose build`` needs, pinned, and small enough to travel in instance metadata.

The image itself cannot be built here (no Docker engine); tests/e2e/test_sample_app_e2e.py
runs the same files with Node. These checks read the files the build would read.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from generator.config.load import parse_config
from generator.emit.bundle import server_bundle
from generator.emit.cloudinit import apply_template
from generator.emit.sampleapp import SAMPLE_APP_FILES

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "templates" / "sample-app"
APP_FILES = (".dockerignore", "Dockerfile", "package-lock.json", "package.json", "server.js")
# OCI allows 32,000 bytes of instance metadata in all (checks/fit.py measures user_data and
# the config bundle, the app included: the largest variant's is ~28.4 kB,
# tests/checks/test_bundle_fit.py). The app may take at most this much, gzip+base64.
BUNDLE_BUDGET_BYTES = 10_000


def bundle(directory: Path, names: tuple[str, ...] = APP_FILES) -> bytes:
    """The app's files as a reproducible tar.gz (fixed order, times and owners)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in names:
            data = (directory / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), 9, mtime=0)


def dockerfile_problems(text: str, present: set[str]) -> list[str]:
    """What would make the image unpinned, root, unhealthy-unaware, or unbuildable."""
    problems = []
    base = re.search(r"^FROM\s+(\S+)", text, re.MULTILINE)
    if not base or not re.fullmatch(r"node:\d*[02468](\.\d+){0,2}-(alpine|slim)[\w.]*", base.group(1)):
        problems.append(f"FROM {base.group(1) if base else '?'}: want an even (LTS) Node major, -alpine or -slim")
    if not re.search(r"^RUN\s+npm ci\b[^\n]*--omit=dev", text, re.MULTILINE):
        problems.append("dependencies must come from the lockfile: RUN npm ci --omit=dev")
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    if not user or user[-1] in ("root", "0"):
        problems.append("the app must run as a non-root USER")
    if not re.search(r"^HEALTHCHECK\s", text, re.MULTILINE):
        problems.append("no HEALTHCHECK")
    if not re.search(r'^CMD\s+\[', text, re.MULTILINE):
        problems.append("CMD must be exec form so SIGTERM reaches node")
    for sources in re.findall(r"^COPY\s+(.+)\s+\S+$", text, re.MULTILINE):
        problems += [f"COPY {s}: no such file in the app" for s in sources.split() if s not in present]
    return problems


def test_bundle_fits_the_metadata_budget() -> None:
    """What the config bundle carries of the app (one text entry per file, the bundle gzip'd as
    a whole) stays in budget, is the shipped bytes and is reproducible. (A tar.gz of the same
    files is kept below as the comparison: one archive would save little.)"""
    def entries() -> dict[str, str]:
        return {f.path: f.template for f in server_bundle(parse_config("name: app\n")) if "/sample-app/" in f.path}

    app = entries()
    packed = base64.b64encode(gzip.compress("".join(app.values()).encode(), 9, mtime=0))
    assert len(packed) <= BUNDLE_BUDGET_BYTES
    assert {path.rsplit("/", 1)[1]: apply_template(t, {}).encode() for path, t in app.items()} == {n: (APP / n).read_bytes() for n in APP_FILES}
    assert entries() == app  # reproducible
    assert tuple(SAMPLE_APP_FILES) == APP_FILES
    packed = bundle(APP)
    assert len(base64.b64encode(packed)) <= BUNDLE_BUDGET_BYTES
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == {n: (APP / n).read_bytes() for n in APP_FILES}  # type: ignore[union-attr]


def test_bundle_has_no_stray_files() -> None:
    """Whatever is added to the app dir must be listed (and so counted) here."""
    assert sorted(p.name for p in APP.iterdir()) == sorted(APP_FILES)


def test_socket_io_is_pinned_exactly_and_locked() -> None:
    package = json.loads((APP / "package.json").read_text())
    lock = json.loads((APP / "package-lock.json").read_text())
    pin = package["dependencies"]["socket.io"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pin), f"socket.io {pin!r} is a range"
    assert not package.get("devDependencies")
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert lock["packages"]["node_modules/socket.io"]["version"] == pin
    # npm ci checks every tarball against these.
    missing = [k for k, v in lock["packages"].items() if k and not v.get("integrity", "").startswith("sha512-")]
    assert missing == []


def test_dockerfile_is_pinned_non_root_and_buildable() -> None:
    assert dockerfile_problems((APP / "Dockerfile").read_text(), set(APP_FILES)) == []
    assert "node_modules" in (APP / ".dockerignore").read_text().split()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("FROM node:26-alpine", "FROM node:latest"), "FROM node:latest"),
        (("FROM node:26-alpine", "FROM node:25-alpine"), "FROM node:25-alpine"),
        (("npm ci --omit=dev", "npm install"), "npm ci --omit=dev"),
        (("USER node", "USER root"), "non-root USER"),
        (("HEALTHCHECK", "# HEALTHCHECK"), "no HEALTHCHECK"),
        (('CMD ["node", "server.js"]', "CMD node server.js"), "exec form"),
        (("COPY server.js ./", "COPY server.js app.js ./"), "COPY app.js"),
    ],
)
def test_dockerfile_check_catches_each_problem(change: tuple[str, str], problem: str) -> None:
    text = (APP / "Dockerfile").read_text()
    assert change[0] in text
    problems = dockerfile_problems(text.replace(change[0], change[1]), set(APP_FILES))
    assert any(problem in p for p in problems), problems
