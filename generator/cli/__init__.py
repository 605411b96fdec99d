"""The `flowstack` command line: one module per command group, all added to `root.cli`.

Each command only parses arguments, calls one library function and prints; `root` is the
single place a library error becomes ``Error: <message>`` and an exit code.

>>> sorted(cli.commands)[:3]
['cost', 'emulator', 'env']
"""

from __future__ import annotations

import os
import signal
import sys

# A Ctrl-C while the command modules load has nothing to clean up: leave quietly with 130
# (a traceback from the middle of an import is noise). `main` puts the usual handler back.
try:
    _previous_sigint = signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))
except ValueError:  # not the main thread (e.g. imported by a test worker): nothing to guard
    _previous_sigint = None

import click  # noqa: E402 - after the import-time guard above

from . import cost, emulator, ocisetup, ops, rm, rotate, stack  # noqa: E402
from .root import cli  # noqa: E402

if _previous_sigint is not None:
    signal.signal(signal.SIGINT, _previous_sigint)

for _command in (*stack.COMMANDS, cost.cost_command, *rm.COMMANDS, ocisetup.oci_setup_command, rotate.rotate_secret_command, *ops.COMMANDS, emulator.emulator_command):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point: Ctrl-C anywhere (even twice) exits 130 without a traceback."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = _run()
    except KeyboardInterrupt:
        code = 130
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C while exiting changes nothing
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    sys.exit(code)


def _run() -> int:
    try:
        result = cli.main(prog_name="flowstack", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return 130
        click.echo("Aborted!", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return result if isinstance(result, int) else 0


__all__ = ["cli", "main"]
