"""How long `flowstack status` takes and how many API requests it makes, against the emulator.

Starts the project's emulator on loopback with a month of seeded metrics (tests/status_seed.py),
then runs ``flowstack status CONFIG --json --no-health`` (one process each, as a user would) a
few times and prints wall time (median, max), the requests the emulator counted per run by
route, and the datapoints the Monitoring answers carried. Health probes are left out: their
time is the network's, not flowstack's.

    python bench/bench_status.py            # 5 runs
    python bench/bench_status.py --runs 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import status_seed  # noqa: E402
from generator.emulator.auth import write_demo_credentials  # noqa: E402
from generator.emulator.process import stop, wait_until_listening  # noqa: E402


def admin(url: str, method: str, path: str) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url + path, method=method), timeout=10) as r:
        raw = r.read()
    return json.loads(raw) if raw else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        creds = write_demo_credentials(work / "oci")
        metrics = work / "metrics.json"
        metrics.write_text(json.dumps(status_seed.seed(dt.datetime.now(dt.timezone.utc), cpu=30, memory=40, gb_per_hour=10)))
        em = subprocess.Popen([sys.executable, "-m", "generator.cli", "emulator", "--port", "0", "--state", str(work / "state.json"),
                               "--public-key", str(creds.public_key_file), "--metrics", str(metrics), "--quiet"],
                              cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            url = wait_until_listening(em, timeout=20)
            times, counts = [], {}
            for _ in range(args.runs):
                admin(url, "DELETE", "/_emulator/stats")
                t0 = time.perf_counter()
                p = subprocess.run([sys.executable, "-m", "generator.cli", "status", "stacks/flowspace.yaml", "--config-file", str(creds.config_file),
                                    "--compartment", creds.tenancy, "--endpoint", url, "--json", "--no-health"],
                                   cwd=ROOT, capture_output=True, text=True, timeout=120)
                times.append(time.perf_counter() - t0)
                if p.returncode:
                    raise SystemExit(f"status failed: {p.stdout}{p.stderr}")
                counts = admin(url, "GET", "/_emulator/stats")
            print(f"flowstack status (emulator, {args.runs} runs): median {statistics.median(times):.2f} s, max {max(times):.2f} s")
            print(f"  requests per run: {counts['total']}")
            for route, n in counts["requests"].items():
                print(f"    {n:3d}  {route}")
        finally:
            stop(em)


if __name__ == "__main__":
    main()
