"""Benchmark: `flowstack zip` and `flowstack validate` on the reference stack, each as a new process.

Prints the median wall time and peak memory (max RSS) over several runs. Targets on the
2-core CI machines: zip under 0.5 s and 100 MB, validate under 1 s.
Run with `make bench` (or `.venv/bin/python bench/bench_build.py [--runs N]`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOWSTACK = ROOT / ".venv" / "bin" / "flowstack"

# Runs the command as a child and prints the child's peak RSS in KiB (Linux ru_maxrss unit).
_MEASURE = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def measure(cmd: list[str], runs: int) -> tuple[float, float, list[float]]:
    walls, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        rc, kib = out.stdout.split()
        if rc != "0":
            raise SystemExit(f"{' '.join(cmd)} exited {rc}")
        walls.append(wall)
        peaks.append(int(kib) / 1024)
    return statistics.median(walls), max(peaks), walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("flowstack zip", [str(FLOWSTACK), "zip", "stacks/flowspace.yaml", "-o", f"{tmp}/bench.zip"], 0.5, 100),
            ("flowstack validate", [str(FLOWSTACK), "validate", "stacks/flowspace.yaml", "--no-external"], 1.0, None),
        ]
        print(f"{'command':<22} {'median s':>9} {'peak MB':>8}  {'target':<22} runs (s)")
        for name, cmd, t_wall, t_mem in cases:
            med, peak, walls = measure(cmd, args.runs)
            target = f"< {t_wall} s" + (f", < {t_mem} MB" if t_mem else "")
            ok = med < t_wall and (t_mem is None or peak < t_mem)
            print(f"{name:<22} {med:>9.3f} {peak:>8.1f}  {target:<16} {'ok' if ok else 'OVER':<5} " + " ".join(f"{w:.3f}" for w in walls))
    print("(wall time includes interpreter start; the wrapper process adds about 20 ms)")


if __name__ == "__main__":
    main()
