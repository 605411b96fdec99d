"""The `flowstack` root command group and the one place library errors become ``Error: ...``.

Every command module (`stack`, `cost`, `rm`, `emulator`) defines plain click commands;
`generator.cli` adds them to `cli`. The library never imports click.

>>> cli.name
'cli'
"""

from __future__ import annotations

import click

from generator.core.errors import FlowstackError

from .. import __version__
from ..emulator.errors import EmulatorError
from .commands import COMMANDS
from .lazy import import_quietly


class UserError(click.ClickException):
    """A library error on its way to the terminal as ``Error: <message>``."""

    def __init__(self, exc: FlowstackError | EmulatorError) -> None:
        super().__init__(str(exc))
        self.exit_code = exc.exit_code  # type: ignore[misc]  # click reads it from the instance


class FlowstackGroup(click.Group):
    """The one place where library errors become ``Error: ...`` and an exit code.

    Commands listed in `commands.COMMANDS` load on first use: `--help` lists them from that
    table and a run imports only its own command's module (startup time is most of a `zip`).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            command: click.Command = getattr(import_quietly(f"{__package__}.{module}"), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name].get_short_help_str(limit)))
            else:
                rows.append((name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except (FlowstackError, EmulatorError) as exc:
            raise UserError(exc) from exc


@click.group(cls=FlowstackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowstack")
def cli() -> None:
    """flowstack: one YAML config to a LiveKit + Socket.IO + Caddy stack on OCI Always Free."""
