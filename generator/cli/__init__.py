"""The `flowstack` command line: one module per command group, all added to `root.cli`.

Each command only parses arguments, calls one library function and prints; `root` is the
single place a library error becomes ``Error: <message>`` and an exit code.

>>> sorted(cli.commands)[:3]
['cost', 'emulator', 'env']
"""

from __future__ import annotations

from . import cost, emulator, ops, rm, stack
from .root import cli

for _command in (*stack.COMMANDS, cost.cost_command, *rm.COMMANDS, *ops.COMMANDS, emulator.emulator_command):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="flowstack")


__all__ = ["cli", "main"]
