"""Issue 13.7: no tracebacks, ever; Ctrl-C exits 130 quietly.

* bad ``--endpoint`` values give one `Error:` line before any request (checked in
  `deploy.endpoint`; the SDK's own failure on them is a traceback — the failing case);
* ``preview --var X_b64=NOTBASE64`` and a ``socket.env`` value holding the internal
  placeholder mark name the variable / field;
* SIGINT sent to a real `flowstack zip` / `generate` subprocess at many moments (during
  imports, rendering, writing) ends with exit 130 (or 0 if it finished first), never a
  traceback, and never leaves a partial zip or directory;
* two SIGINTs in `rm-apply` (real subprocess against the emulator) exit 130, not -2.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.core.errors import OciConfigError
from generator.deploy.endpoint import check_endpoint
from generator.emulator.auth import write_demo_credentials

ROOT = Path(__file__).resolve().parents[2]
BAD_ENDPOINTS = ["ftp://x", "http://", "not a url", "http://127.0.0.1:99999", "http://[::1", "http://127.0.0.1:0",
                 "https://host name", "http://:8080", "//x", "x", "http://127.0.0.1:abc", "file:///etc/passwd",
                 "http://user:pw@127.0.0.1", "http://a..b", "http://\x00", "javascript:alert(1)", ""]


@pytest.mark.parametrize("url", BAD_ENDPOINTS)
def test_bad_endpoint_is_one_error_line(tmp_path: Path, url: str) -> None:
    creds = write_demo_credentials(tmp_path / "oci")
    r = CliRunner().invoke(cli, ["rm-plan", str(ROOT / "stacks" / "flowspace.yaml"), "--config-file", str(creds.config_file),
                                 "--compartment", creds.tenancy, "--endpoint", url])
    assert isinstance(r.exception, SystemExit) and r.exit_code != 0, r.output
    assert r.output.startswith("Error: --endpoint") and r.output.count("\n") == 1, r.output


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "https://resourcemanager.ap-chuncheon-1.oci.oraclecloud.com/", "http://[::1]:9"])
def test_good_endpoints_pass(url: str) -> None:
    assert check_endpoint(url) == url.rstrip("/")


def test_endpoint_check_can_fail() -> None:
    with pytest.raises(OciConfigError):
        check_endpoint("ftp://x")


@pytest.mark.parametrize("value", ["NOTBASE64", "====", "abc", "a b c d", "!!!!", "QUJD\n"])
def test_preview_b64_var_not_base64(tmp_path: Path, value: str) -> None:
    cfg = tmp_path / "se.yaml"
    cfg.write_text((ROOT / "stacks" / "flowspace.yaml").read_text().replace(
        "    NODE_ENV: production\n", "    NODE_ENV: production\n  secret_env: [API_KEY]\n", 1))
    r = CliRunner().invoke(cli, ["preview", str(cfg), "--sample", "--var", f"socket_secret_env_b64={value}", "-o", str(tmp_path / "p")])
    assert isinstance(r.exception, SystemExit) and r.exit_code != 0
    assert r.output.startswith("Error: --var socket_secret_env_b64: not base64") and value.strip() not in r.output.replace("base64", "")


@pytest.mark.parametrize("secret", ["hunter2-secret-value", "ghp_abcdefabcdefabcdefabcdefabcdefabcdef", "=startswithequals"[1:]])
@pytest.mark.parametrize("command", ["preview", "rm-plan"])
def test_var_without_equals_is_not_echoed(tmp_path: Path, secret: str, command: str) -> None:
    """A value typed without NAME= may be a secret: the usage error must not repeat it."""
    args = [command, str(ROOT / "stacks" / "flowspace.yaml"), "--var", secret]
    args += ["--sample", "-o", str(tmp_path / "p")] if command == "preview" else []
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "NAME=VALUE" in r.output and secret not in r.output, r.output


@pytest.mark.parametrize("where", ["env-value", "env-key-value", "tags", "description", "budget-recipient"])
def test_placeholder_mark_names_the_field(tmp_path: Path, where: str) -> None:
    base = (ROOT / "stacks" / "flowspace.yaml").read_text()
    mark = "@@FLOWSTACK:"
    edits = {
        "env-value": ("    NODE_ENV: production\n", f'    NODE_ENV: "x{mark}y"\n', "socket.env", "NODE_ENV"),
        "env-key-value": ("    NODE_ENV: production\n", f'    NODE_ENV: production\n    OTHER: "{mark}"\n', "socket.env", "OTHER"),
        "tags": ("name: flowspace\n", f'name: flowspace\ntags: {{team: "{mark}1"}}\n', "tags", "team"),
        "description": ("description: FlowSpace", f"description: FlowSpace{mark}x", "description", ""),
        "budget-recipient": ("name: flowspace\n", f'name: flowspace\nbudget: {{recipients: ["{mark}@x.com"]}}\n', "budget.recipients", ""),
    }
    old, new, field, entry = edits[where]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(base.replace(old, new, 1))
    r = CliRunner().invoke(cli, ["zip", str(cfg), "-o", str(tmp_path / "o.zip")])
    assert r.exit_code != 0 and r.output.count("\n") == 1
    assert f": {field}:" in r.output and "reserved text" in r.output and entry in r.output, r.output


def _interrupt(argv: list[str], delay: float, times: int = 1, gap: float = 0.05) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    for _ in range(times):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        time.sleep(gap)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _check_quiet(r: subprocess.CompletedProcess[str]) -> None:
    assert r.returncode in (0, 130), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "KeyboardInterrupt" not in r.stderr, r.stderr


def _startup() -> float:
    """How long this machine's interpreter takes to start: before that, no flowstack code runs
    and Python's own SIGINT handling applies (a window flowstack cannot close)."""
    t = time.monotonic()
    subprocess.run([sys.executable, "-c", "import runpy, generator"], check=True, cwd=ROOT)
    return time.monotonic() - t


def _zip_delays(n: int) -> list[float]:
    return [round(0.7 * i / (n - 1), 3) for i in range(n)]


def _fast_first_middle_last(delays: list[float]) -> list[object]:
    """Each delay is a real interpreter interrupted after waiting ~1 s: the fast suite keeps the
    first, middle and last; `make test-slow` runs every one."""
    keep = {0, len(delays) // 2, len(delays) - 1}
    return [d if i in keep else pytest.param(d, marks=pytest.mark.slow) for i, d in enumerate(delays)]


@pytest.mark.parametrize("delay", _fast_first_middle_last(_zip_delays(8)))
@pytest.mark.parametrize("command", ["zip", "generate"])
def test_ctrl_c_exits_130_quietly(tmp_path: Path, command: str, delay: float) -> None:
    out = tmp_path / ("o.zip" if command == "zip" else "o")
    delay += 2 * _startup()
    r = _interrupt([sys.executable, "-m", "generator.cli", command, str(ROOT / "stacks" / "flowspace.yaml"), "-o", str(out)], delay)
    _check_quiet(r)
    if command == "zip" and out.exists():
        zipfile.ZipFile(out).testzip()  # complete, or not there at all
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left in ([], [out.name]), left  # no temporary leftovers


@pytest.mark.slow
@pytest.mark.parametrize("delay", _zip_delays(30))
def test_ctrl_c_many_points_slow(tmp_path: Path, delay: float) -> None:
    delay += 2 * _startup()
    _check_quiet(_interrupt([sys.executable, "-m", "generator.cli", "zip", str(ROOT / "stacks" / "flowspace.yaml"), "-o", str(tmp_path / "o.zip")], delay, times=2, gap=0.01))


# Each case waits seconds of wall clock for rm-apply to reach its phase: 2.5 s in the fast suite, all in `make test-slow`.
@pytest.mark.parametrize("delay", [pytest.param(1.5, marks=pytest.mark.slow), 2.5, pytest.param(3.5, marks=pytest.mark.slow)])
def test_double_ctrl_c_in_rm_apply_exits_130(rm_emulator_factory, delay: float) -> None:
    emulator = rm_emulator_factory(job_seconds=3)
    argv = [sys.executable, "-m", "generator.cli", "rm-apply", str(ROOT / "stacks" / "flowspace.yaml"), "--auto-approve",
            "--config-file", str(emulator.config_file), "--compartment", emulator.compartment_id, "--endpoint", emulator.url,
            "--var", "ssh_public_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh t", "--var", "ssh_source_cidr=203.0.113.7/32",
            "--var", "socket_git_url=https://github.com/flow-coder/flow_metaverse.git"]
    r = _interrupt(argv, delay, times=2, gap=0.02)
    assert r.returncode == 130, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr


def test_sigint_default_would_be_minus_two() -> None:
    """The failing case: a plain Python program interrupted the same way exits -2 with a traceback."""
    r = _interrupt([sys.executable, "-c", "import time; time.sleep(5)"], 0.5)
    assert r.returncode == -signal.SIGINT and "KeyboardInterrupt" in r.stderr
    assert os.name == "posix"


@pytest.mark.parametrize(("args", "start"), [
    (["zip", "/dev/zero"], "Error: /dev/zero: is not a regular file"),
    (["zip", "/dev/null"], "Error: /dev/null: is not a regular file"),
    (["validate", "/proc/self"], "Error: cannot read the stack directory /proc/self"),
    (["ports", "/dev/urandom"], "Error: /dev/urandom: is not a regular file"),
])
def test_unreadable_or_endless_inputs(args: list[str], start: str) -> None:
    """Before: /dev/zero was read forever and /proc/self gave an OSError traceback."""
    r = subprocess.run([sys.executable, "-m", "generator.cli", *args], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert r.returncode != 0 and r.stderr.startswith(start) and r.stderr.count("\n") == 1, r.stderr


def test_huge_config_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(50 * 2**20)  # sparse: 50 MB of NUL
    r = subprocess.run([sys.executable, "-m", "generator.cli", "zip", str(big)], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert r.returncode != 0 and "is larger than" in r.stderr and r.stderr.count("\n") == 1, r.stderr
