"""The `flowstack` root command group and the one place library errors become ``Error: ...``.

Every command module (`stack`, `cost`, `rm`, `emulator`) defines plain click commands;
`generator.cli` adds them to `cli`. The library never imports click.

>>> cli.name
'cli'
"""

from __future__ import annotations

import click

from .. import __version__
from ..emulator.errors import EmulatorError
from ..errors import FlowstackError


class UserError(click.ClickException):
    """A library error on its way to the terminal as ``Error: <message>``."""

    def __init__(self, exc: FlowstackError | EmulatorError) -> None:
        super().__init__(str(exc))
        self.exit_code = exc.exit_code  # type: ignore[misc]  # click reads it from the instance


class FlowstackGroup(click.Group):
    """The one place where library errors become ``Error: ...`` and an exit code."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except (FlowstackError, EmulatorError) as exc:
            raise UserError(exc) from exc


@click.group(cls=FlowstackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowstack")
def cli() -> None:
    """flowstack: one YAML config to a LiveKit + Socket.IO + Caddy stack on OCI Always Free."""
