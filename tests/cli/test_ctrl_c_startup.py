"""Issue 23.9: Ctrl-C at any moment once flowstack's first line has run gives no traceback.

The child is the `flowstack` console script as pip writes it (`from generator.cli import main`),
with one line before it that tells the test "flowstack's first line has run" (a byte on a pipe,
written right after ``import generator``, which imports nothing). The moments are measured from
that byte, inside the child's own start-up, so a slow machine only shifts them: delays of 0 ms
land in the middle of importing the command modules, the later ones during rendering and
writing. Before the fix the handler was installed only after `generator.cli`'s own imports had
begun, and an interrupt during a lazy import left a half-initialized module (the
`generator.deploy.rm has no attribute Deployer` traceback).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WRAPPER = """\
import os, sys
import generator  # flowstack's first line: its Ctrl-C guard is in place from here on
os.write(int(os.environ["STARTED_FD"]), b"x")
from generator.cli import main
if __name__ == "__main__":
    sys.exit(main())
"""


def _interrupted(tmp_path: Path, args: list[str], delay: float, times: int) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "flowstack"  # the console script's name: the guard is for the command only
    script.write_text(WRAPPER)
    read, write = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STARTED_FD": str(write)}
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=tmp_path, env=env, pass_fds=(write,),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(write)
    try:
        assert os.read(read, 1) == b"x"  # blocks until the child ran `import generator`
    finally:
        os.close(read)
    time.sleep(delay)
    for _ in range(times):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        time.sleep(0.003)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


DELAYS = [round(0.02 * i, 3) for i in range(30)]  # 0 to 0.58 s after the first line
FAST = {0, 3, 7, 12, 20, 29}


@pytest.mark.parametrize("times", [1, 2])
@pytest.mark.parametrize("delay", [d if i in FAST else pytest.param(d, marks=pytest.mark.slow) for i, d in enumerate(DELAYS)])
def test_ctrl_c_from_the_first_line_on_exits_quietly(tmp_path: Path, delay: float, times: int) -> None:
    out = tmp_path / "o.zip"
    r = _interrupted(tmp_path, ["zip", str(ROOT / "stacks" / "flowspace.yaml"), "-o", str(out)], delay, times)
    assert r.returncode in (0, 130), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "KeyboardInterrupt" not in r.stderr, r.stderr
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left in (["flowstack"], ["flowstack", "o.zip"]), left  # no temporary leftovers


@pytest.mark.parametrize("name", ["flowstack", "other-tool"])
def test_guard_is_only_for_the_command(tmp_path: Path, name: str) -> None:
    """A program that imports the library keeps Python's own Ctrl-C (KeyboardInterrupt)."""
    code = "import signal, sys; sys.argv[0] = sys.argv[1]; import generator; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    r = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, cwd=ROOT, timeout=30,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.strip() == ("False" if name == "flowstack" else "True"), r.stderr


def test_module_run_is_guarded_too() -> None:
    """`python -m generator.cli` (what the fixtures start) installs the guard in `generator` too."""
    code = ("import runpy, signal, sys; sys.argv = ['-m']; sys.orig_argv = [sys.executable, '-m', 'generator.cli'];"
            "import generator; print(signal.getsignal(signal.SIGINT) is generator._quiet_exit)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert r.stdout.strip() == "True", r.stderr
