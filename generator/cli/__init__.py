"""The `flowstack` command line: one module per command group, all added to `root.cli`.

Each command only parses arguments, calls one library function and prints; `root` is the
single place a library error becomes ``Error: <message>`` and an exit code.

>>> sorted(cli.list_commands(None))[:3]
['cost', 'emulator', 'env']
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

# A Ctrl-C while the command modules load has nothing to clean up: leave quietly with 130
# (a traceback from the middle of an import is noise). `main` puts the usual handler back.
try:
    _previous_sigint = signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))
except ValueError:  # not the main thread (e.g. imported by a test worker): nothing to guard
    _previous_sigint = None

import click  # noqa: E402 - after the import-time guard above

from .root import cli  # noqa: E402 - the commands load on first use (commands.py)

if _previous_sigint is not None:
    signal.signal(signal.SIGINT, _previous_sigint)


def main() -> None:
    """Console-script entry point: Ctrl-C anywhere (even twice) exits 130 without a traceback."""
    signal.signal(signal.SIGINT, _interrupt)
    try:
        code = _run()
    except KeyboardInterrupt:
        code = 130
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C while exiting changes nothing
    if code == 130:
        # Interpreter shutdown puts SIGINT back to the OS default (the process would die of a
        # second Ctrl-C while it tears down loaded modules); an interrupted run has nothing
        # left to finish, so it leaves now.
        _leave(130)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    sys.exit(code)


_INTERRUPTS: list[int] = []


def _leave(code: int) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: KeyboardInterrupt (commands clean up on it), except in the middle of an import.

    A module interrupted while it runs stays half-initialized (a lazy import keeps it in
    ``sys.modules``): code that caught the interrupt would then fail on a missing name with a
    traceback. A command that is still loading has nothing to clean up: leave with 130.

    A second Ctrl-C while the first one unwinds (cleaning up, printing how to pick a job up
    again) leaves at once with 130: raised there, it could escape `main`'s own handler, and an
    uncaught KeyboardInterrupt makes Python kill itself with SIGINT (exit -2, a traceback)."""
    if _INTERRUPTS:
        _leave(130)
    _INTERRUPTS.append(signum)
    f = frame
    while f is not None:
        if f.f_code.co_filename.startswith("<frozen importlib"):
            os._exit(130)
        f = f.f_back
    raise KeyboardInterrupt


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
