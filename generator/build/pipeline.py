"""The build pipeline: config -> render -> checks -> zip, all in memory until written.

>>> build("stacks/flowspace.yaml").zip_bytes[:2]  # doctest: +SKIP
b'PK'
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from generator.checks.run import Report, validate_files
from generator.config.load import load_config
from generator.config.schema import StackConfig
from generator.core.errors import ValidationFailed
from generator.core.files import zip_bytes
from generator.derive.derived import derive
from generator.emit.render import emit_stack


@dataclass(frozen=True)
class Built:
    """A rendered, validated stack and its zip, all in memory."""

    config: StackConfig
    files: dict[str, bytes]
    report: Report
    zip_bytes: bytes

    @property
    def sha256(self) -> str:
        """The zip's sha256, as `flowstack zip` prints it."""
        return hashlib.sha256(self.zip_bytes).hexdigest()


def build(config_path: str | Path, *, allow_paid: bool = False, on: dt.date | None = None) -> Built:
    """Config -> files -> checks -> zip, raising `ValidationFailed` if a check fails."""
    return build_config(load_config(config_path), allow_paid=allow_paid, on=on)


def build_config(config: StackConfig, *, allow_paid: bool = False, on: dt.date | None = None) -> Built:
    """A loaded config's build: derived once, each artefact emitted once, zipped once (the
    Resource Manager fit check measures that same zip), then checked."""
    d = derive(config, on)
    files = emit_stack(d)
    zipped = zip_bytes(files)
    report = validate_files(files, d, allow_paid=allow_paid, on=on, zipped=zipped)
    if not report.ok:
        raise ValidationFailed(report, report.summary())
    return Built(config=config, files=files, report=report, zip_bytes=zipped)


def default_zip_path(config: StackConfig) -> Path:
    """dist/<name>-stack.zip, relative to where the command runs."""
    return Path("dist") / f"{config.name}-stack.zip"


def default_build_dir(config: StackConfig) -> Path:
    """build/<name>/, relative to where the command runs."""
    return Path("build") / config.name
