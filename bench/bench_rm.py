"""How late `flowstack rm-apply` notices a job's end, and how many requests it makes.

For each job length (5 s and 60 s by default) this starts the project's Resource Manager
emulator on loopback, then runs the same create-stack -> PLAN -> APPLY -> outputs flow
twice against it, on a fresh emulator each time:

- ``flowstack rm-apply CONFIG --auto-approve --json`` (one process), and
- the OCI CLI: ``oci resource-manager stack create``, ``job create-plan-job
  --wait-for-state SUCCEEDED``, ``job create-apply-job --execution-plan-strategy
  FROM_PLAN_JOB_ID --wait-for-state SUCCEEDED``, ``job-output-summary list-job-outputs``.

Per run it prints: wall time beyond the jobs' own time (each job's timeFinished -
timeCreated as the emulator reports it), the lag of each job (from its timeFinished to
the moment the tool showed it noticed: flowstack prints the plan summary, the OCI
CLI's waiting command exits; for the APPLY job, the process exits), the API requests the
emulator counted, and the status + log requests per second spent waiting on jobs.

Nothing is installed here: the OCI CLI is taken from ``--oci-cli`` (default
``.venv-ocicli/bin/oci``, which `make bench` installs); without it only flowstack runs.

    python bench/bench_rm.py                 # 5 s and 60 s jobs (about 5 minutes)
    python bench/bench_rm.py --durations 2   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import oci  # noqa: E402

from generator.emulator.process import read_line, wait_until_listening  # noqa: E402
from generator.emulator.process import stop as stop_process  # noqa: E402
from generator.build.pipeline import build  # noqa: E402

# Variables stacks/flowspace.yaml has no default for.
VARIABLES = {"ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbench bench", "ssh_source_cidr": "203.0.113.7/32"}
POLL_KEYS = ("GET /20180917/jobs/{jobId}", "GET /20180917/jobs/{jobId}/logs")


class Emulator:
    """A `flowstack emulator` subprocess with demo credentials, on a free loopback port."""

    def __init__(self, workdir: Path, job_seconds: float) -> None:
        self.workdir = workdir
        demo = workdir / "demo"
        args = [sys.executable, "-m", "generator.cli", "emulator", "--port", "0", "--quiet",
                "--state", str(workdir / "state.json"), "--demo-config", str(demo),
                "--job-seconds", str(job_seconds), "--simulate"]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        try:
            self.url = wait_until_listening(self.proc, 30)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        info = read_line(self.proc.stderr, 10)  # "OCI config: FILE (profile P); compartment: OCID"
        self.config_file = str(demo / "config")
        self.compartment = info.rsplit("compartment: ", 1)[1].strip()
        self.config = oci.config.from_file(self.config_file)

    def client(self):
        return oci.resource_manager.ResourceManagerClient(
            self.config, service_endpoint=self.url, retry_strategy=oci.retry.NoneRetryStrategy()
        )

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url + "/_emulator/stats", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        stop_process(self.proc)


@dataclass
class Run:
    tool: str
    job_seconds: float
    wall: float
    job_time: float
    lags: list[float]
    requests: int
    polls: int

    @property
    def beyond(self) -> float:
        return self.wall - self.job_time

    @property
    def polls_per_second(self) -> float:
        following = self.job_time + sum(self.lags)
        return self.polls / following if following else 0.0


def _stamp(moment) -> float:
    return moment.timestamp()


def _jobs(emulator: Emulator) -> list:
    client = emulator.client()
    (stack,) = client.list_stacks(compartment_id=emulator.compartment).data
    jobs = client.list_jobs(stack_id=stack.id).data
    return sorted((client.get_job(j.id).data for j in jobs), key=lambda j: j.time_created)


def _result(tool: str, seconds: float, emulator: Emulator, wall: float, acted: list[float], stats: dict) -> Run:
    plan, apply_job = _jobs(emulator)
    for job in (plan, apply_job):
        if job.lifecycle_state != "SUCCEEDED":
            raise SystemExit(f"{tool}: {job.operation} job {job.id} is {job.lifecycle_state}")
    job_time = sum(_stamp(j.time_finished) - _stamp(j.time_created) for j in (plan, apply_job))
    lags = [moment - _stamp(job.time_finished) for moment, job in zip(acted, (plan, apply_job))]
    polls = sum(stats["requests"].get(key, 0) for key in POLL_KEYS)
    return Run(tool, seconds, wall, job_time, lags, stats["total"], polls)


def run_flowstack(emulator: Emulator, config: Path, seconds: float) -> Run:
    argv = [sys.executable, "-m", "generator.cli", "rm-apply", str(config), "--auto-approve",
            "--config-file", emulator.config_file, "--compartment", emulator.compartment,
            "--endpoint", emulator.url]
    for name, value in VARIABLES.items():
        argv += ["--var", f"{name}={value}"]
    # Unbuffered, so the moment the plan summary is printed (the plan's end noticed) can
    # be read off the pipe.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    plan_noticed = None
    with tempfile.TemporaryFile() as err:
        start = time.time()
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        for line in proc.stdout:
            if plan_noticed is None and line.startswith("Plan: ") and "(job " in line:
                plan_noticed = time.time()
        proc.wait()
        end = time.time()
        stats = emulator.stats()  # before the bench's own requests below
        if proc.returncode != 0 or plan_noticed is None:
            err.seek(0)
            raise SystemExit(f"flowstack rm-apply failed ({proc.returncode}):\n{err.read().decode()}")
    return _result("flowstack rm-apply", seconds, emulator, end - start, [plan_noticed, end], stats)


def run_oci_cli(emulator: Emulator, oci_cli: str, zip_path: Path, seconds: float) -> Run:
    common = ["--config-file", emulator.config_file, "--endpoint", emulator.url, "--output", "json"]
    env = {**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"}

    def oci_cli_run(*args: str) -> dict:
        done = subprocess.run([oci_cli, *args, *common], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"oci {' '.join(args[:3])} failed ({done.returncode}):\n{done.stderr}")
        return json.loads(done.stdout) if done.stdout.strip() else {}

    start = time.time()
    stack = oci_cli_run("resource-manager", "stack", "create", "--compartment-id", emulator.compartment,
                        "--display-name", "flowspace", "--config-source", str(zip_path),
                        "--terraform-version", "1.5.x", "--variables", json.dumps(VARIABLES))
    stack_id = stack["data"]["id"]
    plan = oci_cli_run("resource-manager", "job", "create-plan-job", "--stack-id", stack_id,
                       "--wait-for-state", "SUCCEEDED", "--wait-for-state", "FAILED")
    plan_noticed = time.time()
    apply_job = oci_cli_run("resource-manager", "job", "create-apply-job", "--stack-id", stack_id,
                            "--execution-plan-strategy", "FROM_PLAN_JOB_ID",
                            "--execution-plan-job-id", plan["data"]["id"],
                            "--wait-for-state", "SUCCEEDED", "--wait-for-state", "FAILED")
    apply_noticed = time.time()
    oci_cli_run("resource-manager", "job-output-summary", "list-job-outputs", "--job-id", apply_job["data"]["id"],
                "--all")
    end = time.time()
    stats = emulator.stats()
    return _result("oci CLI (--wait-for-state)", seconds, emulator, end - start, [plan_noticed, apply_noticed], stats)


def table(runs: list[Run]) -> str:
    head = ("jobs", "tool", "wall", "beyond jobs", "plan lag", "apply lag", "requests", "status+log req/s")
    rows = [head]
    for r in runs:
        rows.append((
            f"{r.job_seconds:g} s", r.tool, f"{r.wall:.1f} s", f"{r.beyond:.1f} s",
            f"{r.lags[0]:.2f} s", f"{r.lags[1]:.2f} s", str(r.requests), f"{r.polls_per_second:.2f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[5.0, 60.0], metavar="SECONDS",
                        help="emulator job lengths to measure (default: 5 60)")
    parser.add_argument("--oci-cli", default=str(ROOT / ".venv-ocicli" / "bin" / "oci"),
                        help="the OCI CLI executable (default: .venv-ocicli/bin/oci)")
    parser.add_argument("--config", default=str(ROOT / "stacks" / "flowspace.yaml"), help="stack config to deploy")
    args = parser.parse_args(argv)

    oci_cli = args.oci_cli if os.access(args.oci_cli, os.X_OK) else shutil.which("oci")
    if not oci_cli:
        print(f"note: no OCI CLI at {args.oci_cli}; measuring flowstack only", file=sys.stderr)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-rm-") as tmp:
        zip_path = Path(tmp) / "stack.zip"
        zip_path.write_bytes(build(args.config).zip_bytes)
        for seconds in args.durations:
            tools = [("flowstack", lambda em, s=seconds: run_flowstack(em, Path(args.config), s))]
            if oci_cli:
                tools.append(("oci-cli", lambda em, s=seconds: run_oci_cli(em, oci_cli, zip_path, s)))
            for name, run in tools:
                emulator = Emulator(Path(tmp) / f"{name}-{seconds:g}", seconds)
                try:
                    print(f"running {name} with {seconds:g} s jobs ...", file=sys.stderr, flush=True)
                    runs.append(run(emulator))
                finally:
                    emulator.stop()
    print(table(runs))
    print("\nlag: from a job's timeFinished to the tool showing it noticed (flowstack: plan summary printed,")
    print("or exit; OCI CLI: the waiting command exits);")
    print("beyond jobs: wall time minus both jobs' own time (includes process start-up);")
    print("status+log req/s: GET /jobs/{id} and GET /jobs/{id}/logs requests per second spent waiting on jobs")
    print("(the jobs' own time plus the lags).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
