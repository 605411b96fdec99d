"""Issue 13.2: two `rm-apply` runs started together create one stack, never two.

Real parts: the real `oci` SDK against the Resource Manager emulator (a real HTTP server that,
like OCI, answers a repeated opc-retry-token with the stack the first request created).
Replaced: OCI itself. The worst interleaving (both runs list "no stack" before either
creates) is forced with a barrier around the SDK's list call, over many trials; the
emulator reproduces the race (the failing case: random tokens and no recheck give two).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from generator.core.errors import ResourceManagerError
from generator.deploy import ociauth, results, rm, stackcreate

# End to end: real concurrent deploys (threads and processes) against a real emulator server. The slow suite runs it (make test); make test-fast skips it.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def deployer(emulator) -> rm.Deployer:
    config, signer = ociauth.load_oci_config(emulator.config_file, "DEFAULT")
    return rm.Deployer(config, signer, endpoint=emulator.url,
                       retry=results.RetrySettings(api_seconds=20, api_base_sleep=0.1, api_max_sleep=1))


def active(emulator, name: str) -> list:
    stacks = emulator.client().list_stacks(compartment_id=emulator.compartment_id, lifecycle_state="ACTIVE").data
    return [s for s in stacks if s.display_name == name]


def race(emulator, name: str, zips: list[bytes], variables: list[dict[str, str]]) -> list[object]:
    """Run find_or_create_stack in parallel, every run listing before any creates."""
    barrier = threading.Barrier(len(zips))
    out: list[object] = [None] * len(zips)

    def run(i: int) -> None:
        d = deployer(emulator)
        real = d.client.list_stacks
        first = [True]

        def listing(*a, **k):
            r = real(*a, **k)
            if first[0]:
                first[0] = False
                barrier.wait(timeout=20)
            return r

        d.client.list_stacks = listing
        try:
            out[i] = d.find_or_create_stack(name, emulator.compartment_id, zips[i], variables[i])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(zips))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


# Six real races per kind (~1.6 s of CPU each): the fast suite keeps one kind, `make test-slow` runs the others.
@pytest.mark.parametrize("kind", ["same-request", *(pytest.param(k, marks=pytest.mark.slow) for k in ("different-variables", "different-zip", "three-runs"))])
def test_parallel_creates_make_one_stack(rm_emulator, rm_stack_zip, kind: str) -> None:
    for trial in range(6):
        name = f"race-{kind}-{trial}"
        n = 3 if kind == "three-runs" else 2
        zips = [rm_stack_zip({"extra.tf": f"# {i}\n"}) if kind == "different-zip" else rm_stack_zip() for i in range(n)]
        variables = [{"v": str(i)} if kind == "different-variables" else {} for i in range(n)]
        outcomes = race(rm_emulator, name, zips, variables)
        assert all(isinstance(o, results.StackRef) for o in outcomes), outcomes
        stacks = active(rm_emulator, name)
        assert len(stacks) == 1, f"trial {trial}: {[s.id for s in stacks]}"
        assert {o.id for o in outcomes} == {stacks[0].id}  # type: ignore[union-attr]


def test_emulator_reproduces_the_race_without_the_guards(rm_emulator, rm_stack_zip, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: random tokens and no recheck (the old code) give two stacks every trial."""
    monkeypatch.setattr(stackcreate, "retry_token", lambda *a, **k: uuid.uuid4().hex)
    real_list = stackcreate.list_ours
    calls: dict[int, int] = {}

    def first_listing_only(d, name, compartment):  # the recheck sees nothing new
        calls[id(d)] = calls.get(id(d), 0) + 1
        return real_list(d, name, compartment) if calls[id(d)] == 1 else []

    monkeypatch.setattr(stackcreate, "list_ours", first_listing_only)
    for trial in range(4):
        # Deployers are keyed by id(): a new trial's deployer can reuse a freed one's id, and its
        # "first" listing would then be skipped: that thread never reaches the barrier, the other
        # gives up after 20 s, one stack (the likely cause of one failure under xdist). Each trial
        # counts afresh, and both runs must get through.
        calls.clear()
        name = f"broken-{trial}"
        outcomes = race(rm_emulator, name, [rm_stack_zip()] * 2, [{}, {}])
        assert all(isinstance(o, results.StackRef) for o in outcomes), outcomes  # both runs got through the barrier
        assert len(active(rm_emulator, name)) == 2


def test_same_retry_token_same_stack_in_parallel(rm_emulator, rm_stack_zip) -> None:
    """The emulator honours opc-retry-token as OCI does, even for requests arriving together."""
    import base64

    from oci.resource_manager import models

    zip_b64 = base64.b64encode(rm_stack_zip()).decode()
    for trial in range(5):
        token = f"tok-{trial}"
        ids: list[str] = []

        def create(token: str = token) -> None:
            details = models.CreateStackDetails(
                compartment_id=rm_emulator.compartment_id, display_name=f"tok-{trial}",
                config_source=models.CreateZipUploadConfigSourceDetails(zip_file_base64_encoded=zip_b64))
            ids.append(rm_emulator.client().create_stack(details, opc_retry_token=token).data.id)

        threads = [threading.Thread(target=create) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(ids) == 4 and len(set(ids)) == 1


def make_duplicates(emulator, zip_bytes: bytes, name: str, n: int = 2) -> list[str]:
    import base64

    from oci.resource_manager import models

    out = []
    for _ in range(n):
        details = models.CreateStackDetails(
            compartment_id=emulator.compartment_id, display_name=name, freeform_tags={rm.STACK_TAG: name},
            config_source=models.CreateZipUploadConfigSourceDetails(zip_file_base64_encoded=base64.b64encode(zip_bytes).decode()))
        out.append(emulator.client().create_stack(details).data.id)
    return out


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=pytest.mark.slow)])  # n=3: in `make test-slow`
def test_duplicates_are_named_with_the_repair_command(rm_cli, rm_stack_zip, n: int) -> None:
    ids = make_duplicates(rm_cli.emulator, rm_stack_zip(), "flowspace", n)
    r = rm_cli("rm-apply", "--auto-approve", first_run=True)
    assert r.exit_code == 5 and r.output.count("Error:") == 1
    assert all(i in r.output for i in ids) and "flowstack rm-dedupe" in r.output
    fixed = rm_cli("rm-dedupe")
    assert fixed.exit_code == 0, fixed.output
    assert fixed.output.startswith(f"Kept stack flowspace ({ids[0]}); deleted")
    assert [s.id for s in active(rm_cli.emulator, "flowspace")] == [ids[0]]
    again = rm_cli("rm-apply", "--auto-approve", first_run=True)
    assert again.exit_code == 0, again.output


def test_dedupe_refuses_when_two_stacks_have_jobs(rm_cli, rm_stack_zip) -> None:
    from oci.resource_manager import models

    ids = make_duplicates(rm_cli.emulator, rm_stack_zip(), "flowspace", 2)
    for stack_id in ids:
        job = rm_cli.emulator.client().create_job(models.CreateJobDetails(
            stack_id=stack_id, job_operation_details=models.CreatePlanJobOperationDetails())).data
        rm_cli.emulator.wait_for_job(job.id)
    r = rm_cli("rm-dedupe")
    assert r.exit_code == 5 and all(i in r.output for i in ids) and "have jobs" in r.output
    assert len(active(rm_cli.emulator, "flowspace")) == 2  # nothing deleted


@pytest.mark.slow
def test_parallel_rm_apply_processes(rm_emulator, tmp_path: Path) -> None:
    """Two real `flowstack rm-apply` processes started together, several trials: one stack each time."""
    base = (ROOT / "stacks" / "flowspace.yaml").read_text()
    for trial in range(4):
        cfg = tmp_path / f"par{trial}.yaml"
        cfg.write_text(base.replace("name: flowspace", f"name: par-{trial}", 1))
        argv = [sys.executable, "-m", "generator.cli", "rm-apply", str(cfg), "--auto-approve",
                "--config-file", str(rm_emulator.config_file), "--compartment", rm_emulator.compartment_id,
                "--endpoint", rm_emulator.url, "--var", "ssh_public_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh t",
                "--var", "ssh_source_cidr=203.0.113.7/32", "--var", "socket_git_url=https://github.com/flow-coder/flow_metaverse.git"]
        procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert len(active(rm_emulator, f"par-{trial}")) == 1, outs
        for p, (_, err) in zip(procs, outs):
            assert p.returncode == 0 or (p.returncode == 5 and err.count("Error:") == 1 and "Traceback" not in err), err


def test_find_stack_error_is_a_resource_manager_error() -> None:
    class S:
        def __init__(self, i: str) -> None:
            self.id = i

    err = stackcreate.duplicates_error("demo", [S("a"), S("b")])
    assert isinstance(err, ResourceManagerError) and "(a, b)" in str(err) and "rm-dedupe" in str(err)
