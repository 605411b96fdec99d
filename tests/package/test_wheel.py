"""Issue 9: flowstack is a real installable tool, not something that only works from a checkout.

Builds the wheel (hatchling, templates/ force-included), installs it into a fresh virtualenv
outside the checkout, and from a temporary directory runs `flowstack init`, `zip`,
`validate`, `emulator` (started and stopped) and `rm-apply` against that emulator. The
package index (PyPI) provides the dependencies; nothing of the checkout is on sys.path.
Replaced: OCI itself (by the emulator, as in the other rm-* tests).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from generator.emulator.process import stop, wait_until_listening

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(bin directory of a fresh venv with the built wheel installed, its environment)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FLOWSTACK_CHECKOV")}
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(base / "dist"), str(ROOT)], base, env)
    (wheel,) = (base / "dist").glob("flowstack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "generator/templates/main.tf.j2" in names and "generator/data/prices.yaml" in names
    # Issue 16: the sample app (dotfile included) and the boot step ship in the wheel.
    assert {"generator/templates/sample-app/.dockerignore", "generator/templates/sample-app/package-lock.json",
            "generator/templates/boot/flowstack-hostnames.py", "generator/data/domains.yaml", "generator/data/sizing.yaml"} <= set(names)
    venv.create(base / "venv", with_pip=True)
    bin_dir = base / "venv" / "bin"
    run([str(bin_dir / "pip"), "install", "-q", str(wheel)], base, env)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return bin_dir, env


def test_wheel_runs_init_zip_validate_emulator_and_rm_apply(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bin_dir, env = installed
    flowstack = str(bin_dir / "flowstack")
    work = tmp_path / "elsewhere"
    work.mkdir()
    # The installed package, not the checkout, is what runs.
    where = run([str(bin_dir / "python"), "-c", "import generator; print(generator.__file__)"], work, env).stdout
    assert str(ROOT) not in where and "site-packages" in where

    run([flowstack, "init", "stacks/demo.yaml"], work, env)
    zipped = run([flowstack, "zip", "stacks/demo.yaml"], work, env)
    assert "Wrote dist/demo-stack.zip" in zipped.stdout
    assert zipfile.ZipFile(work / "dist" / "demo-stack.zip").namelist()[:2] == ["main.tf", "variables.tf"]
    # The starter runs the sample app, read from the installed package into the config bundle;
    # the config agent (a template file too) into cloud-init.
    names = zipfile.ZipFile(work / "dist" / "demo-stack.zip").namelist()
    assert "bundle/sample-app/.dockerignore" in names and "bundle.tf" in names
    assert b"/usr/local/sbin/flowstack-agent" in zipfile.ZipFile(work / "dist" / "demo-stack.zip").read("cloud-init.yaml")
    checked = run([flowstack, "validate", "stacks/demo.yaml"], work, env)
    assert "PASS" in checked.stdout and "tools/" not in checked.stdout + checked.stderr

    proc = subprocess.Popen([flowstack, "emulator", "--port", "0", "--state", str(work / "rm.json"), "--demo-config",
                             str(work / "oci"), "--job-seconds", "0.2", "--quiet"],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = wait_until_listening(proc, timeout=60)
        tenancy = next(line.split("=", 1)[1].strip() for line in (work / "oci" / "config").read_text().splitlines()
                       if line.startswith("tenancy"))
        applied = run([flowstack, "rm-apply", "stacks/demo.yaml", "--config-file", str(work / "oci" / "config"),
                       "--compartment", tenancy, "--endpoint", url, "--auto-approve",
                       "--var", "ssh_public_key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh test",
                       "--var", "ssh_source_cidr=203.0.113.7/32"], work, env, timeout=120)
        assert "Apply job" in applied.stdout and "succeeded" in applied.stdout
    finally:
        stop(proc)
    assert proc.returncode is not None
