"""Benchmark: `flowstack rotate-secret` on the reference config padded to ~800 kB with comments,
as a new process (issue 23.5: it took 16.9 s; libyaml now parses it and no pass is repeated
needlessly). Prints the median wall time over several runs; target on the 2-core CI machines:
under 2 s. Run with `make bench` (or `.venv/bin/python bench/bench_rotate.py [--runs N]`).
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    padding = "".join(f"# padding line {i:05d} ............................................................\n" for i in range(10000))
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "big.yaml"
        config.write_text((ROOT / "stacks" / "flowspace.yaml").read_text() + padding)
        size = config.stat().st_size
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "generator.cli", "rotate-secret", str(config)], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - start)
    print(f"rotate-secret on a {size / 1000:.0f} kB config: median {statistics.median(walls):.2f} s over {args.runs} runs "
          f"({', '.join(f'{w:.2f}' for w in walls)})")


if __name__ == "__main__":
    main()
