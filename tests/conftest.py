"""Shared pytest fixtures. Sections are owned by the module they serve."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# Tests mirror the package (tests/<area>/test_*.py, no __init__.py). The support modules
# (variants, *_support, ...) live here in tests/, which pytest puts on sys.path for this
# conftest; the areas go on it too, so a test may import another area's test module
# (`from test_server_files import VARIANTS`) however pytest or xdist orders collection.
for _area in sorted(p for p in Path(__file__).resolve().parent.iterdir() if p.is_dir() and any(p.glob("test_*.py"))):
    if str(_area) not in sys.path:
        sys.path.append(str(_area))

import pytest  # noqa: E402
from tfdouble_support import REFERENCE, generate  # noqa: E402

from generator.tfdouble.runner import Terraform, TerraformNotFound, find_terraform  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    # `make golden`: rewrite tests/golden/ from what the generator makes now (review the diff).
    parser.addoption("--update-goldens", action="store_true", default=False, help="rewrite tests/golden/ instead of comparing")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


# --- Resource Manager emulator fixtures ---
#
# A real `flowstack emulator` subprocess (HTTP on 127.0.0.1, signatures checked) with a
# key pair and OCI config generated for the test.  Use it with the real `oci` SDK:
#
#     def test_something(rm_emulator):
#         client = rm_emulator.client()          # ResourceManagerClient, no retries
#         client.create_stack(..., compartment_id=rm_emulator.compartment_id, ...)
#
# Fixtures:
#   rm_emulator          a running emulator, jobs of 0.05 s (short: tests do not wait on
#                        wall-clock jobs; pass job_seconds for a job that must be seen
#                        running), no faults (function scope).
#   rm_emulator_factory  rm_emulator_factory(job_seconds=2.0, faults={...}) for more or
#                        other emulators; each is stopped at the end of the test.
#                        They start through tests/emulator_main.py (the emulator command
#                        without importing the other commands; it says why);
#                        real_entry=True starts `python -m generator.cli emulator`.
#   rm_stack_zip         rm_stack_zip(files=None) -> bytes: a small Terraform stack zip
#                        (main.tf with a VCN, subnet and oci_core_instance.server,
#                        variables.tf, outputs.tf with public_ip, a wss:// URL template
#                        and a sensitive output); ``files`` adds or replaces files.
#
# RMEmulator (what both fixtures give):
#   url             "http://127.0.0.1:PORT": pass as service_endpoint / --endpoint.
#   config          the OCI config dict (user, fingerprint, tenancy, region, key_file).
#   config_file     path of the generated OCI config file; profile "DEFAULT".
#   compartment_id  a compartment OCID to create stacks in (the made-up tenancy).
#   key_file, public_key_file, state_file, log_file (the emulator's stderr), port.
#   client(**kw)    oci ResourceManagerClient with NoneRetryStrategy (kw override).
#   set_faults(spec=None, **faults) -> dict   replace the faults spec (see
#                   generator/emulator/faults.py), e.g. set_faults(capacity_fail_ads=[1]).
#   faults() -> dict, stats() -> dict, reset_stats()   GET /_emulator/faults|stats ...
#   wait_for_job(job_id, timeout=10) -> oci Job once it is SUCCEEDED/FAILED/CANCELED.
#   restart()       stop the process and start it again on the same port and state file
#                   (faults carry over through the state file, not re-read from --faults).
#   stop()          SIGTERM; done for you at teardown.

import json as _rm_json
import subprocess as _rm_subprocess
import sys as _rm_sys
import time as _rm_time
import urllib.request as _rm_urllib
import zipfile as _rm_zipfile
from io import BytesIO as _RmBytesIO

from generator.emulator.process import stop as stop_process
from generator.emulator.process import wait_until_listening

RM_STACK_FILES = {
    "main.tf": """\
resource "oci_core_vcn" "this" {
  compartment_id = var.compartment_ocid
  cidr_block     = "10.0.0.0/16"
}

resource "oci_core_subnet" "public" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.this.id
  cidr_block     = "10.0.0.0/24"
}

resource "oci_core_instance" "server" {
  compartment_id      = var.compartment_ocid
  availability_domain = var.availability_domain_number
  shape               = "VM.Standard.A1.Flex"
}
""",
    "variables.tf": """\
variable "compartment_ocid" {}

variable "availability_domain_number" {
  type    = number
  default = 1
}

variable "domain" {
  type    = string
  default = "example.com"
}
""",
    "outputs.tf": """\
output "public_ip" {
  value       = oci_core_instance.server.public_ip
  description = "Public address of the server"
}

output "livekit_url" {
  value = "wss://space-livekit.${var.domain}"
}

output "livekit_api_secret" {
  value     = random_password.livekit.result
  sensitive = true
}
""",
}


def _rm_build_zip(files: dict[str, str]) -> bytes:
    buffer = _RmBytesIO()
    with _rm_zipfile.ZipFile(buffer, "w", _rm_zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            # A fixed time: two calls in different seconds must give the same bytes.
            archive.writestr(_rm_zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


class RMEmulator:
    """A `flowstack emulator` subprocess and the credentials to talk to it."""

    def __init__(self, workdir: Path, *, job_seconds: float = 0.05, faults: dict | None = None,
                 extra_public_keys: tuple[str, ...] = (), terraform: bool = False, real_entry: bool = False) -> None:
        from generator.emulator.auth import write_demo_credentials

        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.creds = write_demo_credentials(workdir / "oci")
        self.config = self.creds.as_config()
        self.config_file = self.creds.config_file
        self.profile = self.creds.profile
        self.key_file = self.creds.key_file
        self.public_key_file = self.creds.public_key_file
        self.compartment_id = self.creds.tenancy
        self.state_file = workdir / "rm-state.json"
        self.log_file = workdir / "emulator.log"
        self.job_seconds = job_seconds
        self.extra_public_keys = tuple(str(k) for k in extra_public_keys)
        # The fast RM tests run on the simulated jobs; terraform=True runs real Terraform per job.
        self.terraform = terraform
        # real_entry=True: `python -m generator.cli emulator` (the whole CLI) instead of tests/emulator_main.py.
        self.real_entry = real_entry
        self.port = 0
        self.url = ""
        self.proc: _rm_subprocess.Popen | None = None
        faults_file = None
        if faults:
            faults_file = workdir / "faults.json"
            faults_file.write_text(_rm_json.dumps(faults), encoding="utf-8")
        self._start(faults_file)

    def _start(self, faults_file: Path | None = None) -> None:
        # tests/emulator_main.py: the `flowstack emulator` command without loading the other commands.
        entry = ["-m", "generator.cli", "emulator"] if self.real_entry else [str(ROOT / "tests" / "emulator_main.py")]
        args = [_rm_sys.executable, *entry, "--port", str(self.port),
                "--state", str(self.state_file), "--public-key", str(self.public_key_file),
                "--job-seconds", str(self.job_seconds)] + ([] if self.terraform else ["--simulate"])
        for key in self.extra_public_keys:
            args += ["--public-key", key]
        if faults_file:
            args += ["--faults", str(faults_file)]
        log = open(self.log_file, "ab")
        try:
            self.proc = _rm_subprocess.Popen(args, cwd=ROOT, stdout=_rm_subprocess.PIPE, stderr=log,
                                             stdin=_rm_subprocess.DEVNULL)
        finally:
            log.close()
        try:
            self.url = wait_until_listening(self.proc, timeout=20)
        except RuntimeError as exc:
            self.proc = None
            raise RuntimeError(f"{exc}\n{self.log_file.read_text(errors='replace')}") from None
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self._start()

    # --- the SDK ---

    def client(self, **kwargs):
        import oci

        kwargs.setdefault("service_endpoint", self.url)
        kwargs.setdefault("retry_strategy", oci.retry.NoneRetryStrategy())
        return oci.resource_manager.ResourceManagerClient(self.config, **kwargs)

    def wait_for_job(self, job_id: str, timeout: float = 10.0):
        client = self.client()
        deadline = _rm_time.monotonic() + timeout
        while True:
            job = client.get_job(job_id).data
            if job.lifecycle_state in ("SUCCEEDED", "FAILED", "CANCELED"):
                return job
            if _rm_time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.lifecycle_state} after {timeout} s")
            _rm_time.sleep(0.05)

    # --- the admin endpoints ---

    def _admin(self, method: str, path: str, body: object = None):
        data = None if body is None else _rm_json.dumps(body).encode()
        request = _rm_urllib.Request(self.url + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        with _rm_urllib.urlopen(request, timeout=10) as response:
            raw = response.read()
        return _rm_json.loads(raw) if raw else None

    def set_faults(self, spec: dict | None = None, **faults: object) -> dict:
        return self._admin("POST", "/_emulator/faults", {**(spec or {}), **faults})

    def faults(self) -> dict:
        return self._admin("GET", "/_emulator/faults")

    def stats(self) -> dict:
        return self._admin("GET", "/_emulator/stats")

    def reset_stats(self) -> None:
        self._admin("DELETE", "/_emulator/stats")


@pytest.fixture
def rm_emulator_factory(tmp_path: Path):
    started: list[RMEmulator] = []

    def start(**kwargs: object) -> RMEmulator:
        emulator = RMEmulator(tmp_path / f"rm-emulator-{len(started)}", **kwargs)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def rm_emulator(rm_emulator_factory) -> RMEmulator:
    return rm_emulator_factory()


@pytest.fixture
def rm_stack_zip():
    def build(files: dict[str, str] | None = None) -> bytes:
        return _rm_build_zip({**RM_STACK_FILES, **(files or {})})

    return build


# --- rm-* fixtures ---
#
# rm_cli: runs `flowstack <rm-command> CONFIG ...` in-process (click's CliRunner) against
# an emulator, with --config-file, --compartment and --endpoint filled in.
#
#     def test_x(rm_cli):
#         result = rm_cli("rm-apply", "--auto-approve", first_run=True)
#         rm_cli.emulator.stats()
#
# ``first_run=True`` adds the three variables stacks/flowspace.yaml needs and has no
# default for (ssh_public_key, ssh_source_cidr, and socket_git_url: the reference config
# keeps the example repository, so the app's URL is asked at deploy time).  ``config=`` names another config file.


class RmCli:
    """The rm-* commands of the CLI, pointed at one emulator."""

    FIRST_RUN_VARS = ("--var", "ssh_public_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh test",
                      "--var", "ssh_source_cidr=203.0.113.7/32",
                      "--var", "socket_git_url=https://github.com/flow-coder/flow_metaverse.git")

    def __init__(self, emulator: RMEmulator, config: Path) -> None:
        self.emulator = emulator
        self.config = config

    def oci_args(self) -> list[str]:
        return ["--config-file", str(self.emulator.config_file), "--compartment", self.emulator.compartment_id,
                "--endpoint", self.emulator.url]

    def __call__(self, command: str, *args: str, config: Path | None = None, first_run: bool = False):
        from click.testing import CliRunner

        from generator.cli import cli

        argv = [command, str(config or self.config), *self.oci_args(), *(self.FIRST_RUN_VARS if first_run else ()), *args]
        return CliRunner().invoke(cli, argv, catch_exceptions=False)


@pytest.fixture(autouse=True)
def quick_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """rm-* commands run in-process poll every 0.05-0.2 s instead of 0.5-1.8 s.

    The emulator's jobs are short (0.05 s), so the tests do not wait on polling they do not
    test. Replaced: only `Deployer.default_poll`; the tests of the polling policy itself
    pass an explicit `PollSettings()`.
    """
    from generator.deploy import results
    from generator.deploy.rm import Deployer

    monkeypatch.setattr(Deployer, "default_poll", results.PollSettings(
        first_interval=0.05, factor=2.0, max_interval=0.2, log_interval=0.2, request_rate=50.0, burst=5.0, tick=0.1))


@pytest.fixture
def rm_cli(rm_emulator) -> RmCli:
    return RmCli(rm_emulator, ROOT / "stacks" / "flowspace.yaml")


@pytest.fixture
def rm_cli_factory():
    """rm_cli_factory(emulator) -> RmCli, for emulators made with rm_emulator_factory."""

    def make(emulator: RMEmulator, config: Path | None = None) -> RmCli:
        return RmCli(emulator, config or ROOT / "stacks" / "flowspace.yaml")

    return make


@pytest.fixture
def rm_config(tmp_path: Path):
    """rm_config(replace={old: new}, append="yaml") -> Path: a variant of stacks/flowspace.yaml.

    ``replace`` edits the text (each ``old`` must be there), ``append`` adds top-level
    keys, e.g. ``rm_config(append="traffic_alarm: {enabled: true, slack: true}")``.
    """
    made: list[Path] = []

    def make(replace: dict[str, str] | None = None, append: str = "") -> Path:
        text = (ROOT / "stacks" / "flowspace.yaml").read_text(encoding="utf-8")
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / f"flowspace-{len(made)}.yaml"
        path.write_text(text + ("\n" + append + "\n" if append else ""), encoding="utf-8")
        made.append(path)
        return path

    return make


# --- tfdouble fixtures (real Terraform against generator/tfdouble) ---
#
#   terraform_bin  the terraform the runner finds (fails, never skips, when there is none)
#   tf_reference   the reference stack generated by the `flowstack` CLI (module scope)
#   tf_stack       a private, editable copy of it


@pytest.fixture(scope="module")
def terraform_bin() -> Terraform:
    try:
        return find_terraform()
    except TerraformNotFound as exc:
        pytest.fail(f"these tests need a real terraform: {exc}")


@pytest.fixture(scope="module")
def tf_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(REFERENCE, tmp_path_factory.mktemp("ref") / "stack")


@pytest.fixture
def tf_stack(tf_reference: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tf_reference, tmp_path / "stack"))
