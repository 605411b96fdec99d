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


def measure(cmd: list[str], runs: int, expect: str = "0") -> tuple[float, float, list[float]]:
    walls, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        rc, kib = out.stdout.split()
        if rc != expect:
            raise SystemExit(f"{' '.join(cmd)} exited {rc}")
        walls.append(wall)
        peaks.append(int(kib) / 1024)
    return statistics.median(walls), max(peaks), walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Issue 13.6: hostile YAML is refused within a second (exit 2, one Error line).
        bomb = Path(tmp) / "bomb.yaml"
        bomb.write_text('a0: &a0 "lol"\n' + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)))
        deep = Path(tmp) / "deep.yaml"
        deep.write_text("x: " + "[" * 5000 + "]" * 5000)
        cases = [
            ("flowstack zip", [str(FLOWSTACK), "zip", "stacks/flowspace.yaml", "-o", f"{tmp}/bench.zip"], 0.5, 100, "0"),
            ("flowstack validate", [str(FLOWSTACK), "validate", "stacks/flowspace.yaml", "--no-external"], 1.0, None, "0"),
            ("zip alias bomb", [str(FLOWSTACK), "zip", str(bomb), "-o", f"{tmp}/b.zip"], 1.0, 100, "2"),
            ("zip 5000-deep", [str(FLOWSTACK), "zip", str(deep), "-o", f"{tmp}/d.zip"], 1.0, 100, "2"),
        ]
        print(f"{'command':<22} {'median s':>9} {'peak MB':>8}  {'target':<22} runs (s)")
        for name, cmd, t_wall, t_mem, rc in cases:
            med, peak, walls = measure(cmd, args.runs, rc)
            target = f"< {t_wall} s" + (f", < {t_mem} MB" if t_mem else "")
            ok = med < t_wall and (t_mem is None or peak < t_mem)
            print(f"{name:<22} {med:>9.3f} {peak:>8.1f}  {target:<16} {'ok' if ok else 'OVER':<5} " + " ".join(f"{w:.3f}" for w in walls))
    print("(wall time includes interpreter start; the wrapper process adds about 20 ms)")


if __name__ == "__main__":
    main()
