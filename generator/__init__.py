"""flowstack: one YAML config to an OCI Resource Manager stack for LiveKit + Socket.IO + Caddy."""

import signal as _signal
import sys as _sys


def _quiet_exit(signum: int, frame: object) -> None:
    """Ctrl-C while flowstack is still loading: nothing to clean up, leave with 130 (no traceback)."""
    import os

    os._exit(130)


# The command line's first line of flowstack is this package's: guard Ctrl-C here, before any
# other import, so no moment of start-up can print a traceback. Only for the `flowstack` command
# (its console script or `python -m generator.cli`): a library user keeps Python's handler.
# `generator.cli.main` puts its own handler in place once the commands are loaded.
_cli = _sys.argv[0].rsplit("/", 1)[-1] == "flowstack" or (_sys.argv[0] == "-m" and "generator.cli" in _sys.orig_argv)
if _cli and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    try:
        _signal.signal(_signal.SIGINT, _quiet_exit)
    except ValueError:  # not the main thread
        pass

__version__ = "0.1.0"
