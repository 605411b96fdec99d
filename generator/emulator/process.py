"""The emulator as a child process: start-up handshake and clean stop.

`flowstack emulator` prints `LISTENING` + its URL as its first line; whoever starts it
(the test fixtures, the benchmark) waits for that line with a time limit, and stops the
process with SIGTERM, then SIGKILL if it does not exit.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from typing import IO

LISTENING = "Resource Manager emulator listening on "


def read_line(stream: IO[bytes], timeout: float) -> str:
    """One line from a child's pipe, or what arrived before ``timeout`` seconds.

    Reads a byte at a time so nothing after the line is taken from the pipe."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(stream.fileno(), 1)
            if not chunk:
                break
            data += chunk
    finally:
        selector.close()
    return data.decode("utf-8", "replace").strip()


def wait_until_listening(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The URL the emulator ``proc`` listens on; stops it and raises if it does not say so in time."""
    assert proc.stdout is not None
    line = read_line(proc.stdout, timeout)
    if not line.startswith(LISTENING):
        stop(proc)
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return line[len(LISTENING):].strip()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL after 10 s; closes the pipes."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe:
            pipe.close()
