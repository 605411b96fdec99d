"""Running the emulator in the foreground: what `flowstack emulator` does, without click.

Start-up prints `process.LISTENING` + the URL as the first stdout line (the contract scripts
and test fixtures wait for); SIGTERM ends it as cleanly as Ctrl-C.

>>> serve(state_file="/tmp/s.json", public_keys=[], port=0)  # doctest: +SKIP
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from .auth import ensure_demo_credentials
from .cloud import build_cloud_emulator
from .errors import UsageError
from .process import LISTENING
from .server import stderr_log


def serve(*, state_file: str, public_keys: list[str], demo_dir: str | None = None, host: str = "127.0.0.1",
          port: int = 0, job_seconds: float = 3.0, faults_file: str | None = None, quiet: bool = False, metrics_file: str | None = None,
          runner_note: str = "",
          out: Callable[[str], None] = print, note: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> None:
    """Serve until Ctrl-C or SIGTERM; raises `EmulatorError` when it cannot start."""
    keys = list(public_keys)
    demo = ensure_demo_credentials(demo_dir) if demo_dir else None
    if demo:
        keys.append(str(demo.public_key_file))
    if not keys:
        raise UsageError("give at least one --public-key PEM (or --demo-config DIR)")
    server = build_cloud_emulator(state_file=state_file, public_keys=keys, metrics_file=metrics_file, host=host, port=port,
                            job_seconds=job_seconds, faults_file=faults_file, log=None if quiet else stderr_log)
    out(f"{LISTENING}{server.url}")
    sys.stdout.flush()
    if runner_note:
        note(runner_note)
    if demo:
        note(f"OCI config: {demo.config_file} (profile {demo.profile}); compartment: {demo.tenancy}")

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM ends as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
