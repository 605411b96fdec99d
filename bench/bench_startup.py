"""Benchmark: `flowstack zip` and `flowstack --help` as new processes, beside a baseline.

Each command runs once to warm up (bytecode, the parse and template caches under
~/.cache/flowstack), then N times; the median wall time is printed with its ratio to the
baseline measured in the same run, interleaved: ``python -c "import yaml, jinja2"`` as a new
process (what any YAML+Jinja tool pays to start). The ratio survives a busy machine where
seconds do not. Targets (issue 24, on an idle 2-core machine): zip <= 0.35 s, --help <= 0.15 s;
`--cold` also times zip with the on-disk caches turned off.

Run with `make bench` (or `.venv/bin/python bench/bench_startup.py [--runs N] [--cold]`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = [sys.executable, "-c", "import yaml, jinja2"]


def run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time zip without the parse/template caches")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's generator, as the console script runs it
    flowstack = [sys.executable, "-m", "generator.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "flowstack zip": (flowstack + ["zip", "stacks/flowspace.yaml", "-o", f"{tmp}/bench.zip"], 0.35, env),
            "flowstack --help": (flowstack + ["--help"], 0.15, env),
        }
        if args.cold:
            cold = {**env, "FLOWSTACK_HCL_CACHE": "0", "FLOWSTACK_JINJA_CACHE": "0"}
            cases["flowstack zip (cold)"] = (cases["flowstack zip"][0], 0.35, cold)
        times: dict[str, list[float]] = {name: [] for name in ["baseline", *cases]}
        run(BASELINE, env)
        for cmd, _, cenv in cases.values():
            run(cmd, cenv)  # warm-up
        for _ in range(args.runs):  # interleaved, so load changes hit every figure alike
            times["baseline"].append(run(BASELINE, env))
            for name, (cmd, _, cenv) in cases.items():
                times[name].append(run(cmd, cenv))
    base = statistics.median(times["baseline"])
    print(f"{'command':<24} {'median s':>9} {'x baseline':>10}  target   runs (s)")
    print(f"{'baseline: import yaml, jinja2':<24} {base:>9.3f} {1.0:>10.2f}  -        " + " ".join(f"{t:.3f}" for t in times["baseline"]))
    for name, (_, target, _) in cases.items():
        med = statistics.median(times[name])
        print(f"{name:<24} {med:>9.3f} {med / base:>10.2f}  <= {target:<5} " + " ".join(f"{t:.3f}" for t in times[name]))
    print("(median of", args.runs, "after one warm-up; on a busy machine read the ratio: an idle 2-core machine starts the baseline in ~0.06 s)")


if __name__ == "__main__":
    main()
