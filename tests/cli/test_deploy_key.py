"""`flowstack deploy-key` (issue 22 item 1b): the pair, its modes, what it prints, what it refuses.

Real parts: the CLI as a user runs it (click's runner, HOME in a temp directory), the
`cryptography` key generation, and OpenSSH's own `ssh-keygen` reading the private key back
(its public half and fingerprint must be what the command printed). Nothing is replaced.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli


def _run(*args: str, home: Path) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["deploy-key", *args], env={"HOME": str(home)})
    return r.exit_code, r.output


def test_makes_a_pair_in_a_private_directory_and_says_where_it_goes(tmp_path: Path) -> None:
    code, out = _run("flowspace", home=tmp_path)
    assert code == 0, out
    folder = tmp_path / ".flowstack" / "deploy-keys" / "flowspace"
    private, public = folder / "id_ed25519", folder / "id_ed25519.pub"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert private.stat().st_mode & 0o777 == 0o600 and public.stat().st_mode & 0o777 == 0o644
    line = public.read_text().strip()
    assert line.startswith("ssh-ed25519 AAAA") and line.endswith(" flowstack-deploy-flowspace")
    # The public line, where to paste it on both hosts (read-only), and how the private half reaches the deploy.
    assert f"  {line}\n" in out
    assert "GitHub: the repository -> Settings -> Deploy keys -> Add deploy key" in out and "'Allow write access' unticked" in out
    assert "GitLab: the project -> Settings -> Repository -> Deploy keys" in out
    assert f"--var socket_git_ssh_key=@{private}" in out and "upload" in out
    # Never the private key itself.
    text = private.read_text()
    assert text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert "PRIVATE KEY" not in out and "".join(text.splitlines()[1:-1])[:30] not in out
    if shutil.which("ssh-keygen"):  # OpenSSH reads the key: no passphrase, the same public half and fingerprint
        derived = subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(private)], capture_output=True, text=True, check=True).stdout
        assert derived.split()[:2] == line.split()[:2]
        fp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(public)], capture_output=True, text=True, check=True).stdout
        assert fp.split()[1] in out


def test_never_overwrites_a_key(tmp_path: Path) -> None:
    assert _run("flowspace", home=tmp_path)[0] == 0
    private = tmp_path / ".flowstack" / "deploy-keys" / "flowspace" / "id_ed25519"
    before = private.read_bytes()
    code, out = _run("flowspace", home=tmp_path)
    assert code == 2
    assert out.startswith("Error: ") and out.count("\n") == 1 and "already exists; nothing written" in out
    assert private.read_bytes() == before
    # Only the public half left behind (the private one moved away): still refused, nothing made.
    private.unlink()
    code, out = _run("flowspace", home=tmp_path)
    assert code == 2 and "id_ed25519.pub already exists" in out and not private.exists()


def test_refuses_a_directory_others_can_read(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    code, out = _run("flowspace", "--dir", str(folder), home=tmp_path)
    assert code == 2 and "open to other users (mode 755)" in out and list(folder.iterdir()) == []
    code, out = _run("flowspace", "--dir", str(tmp_path / "new" / "keys"), home=tmp_path)
    assert code == 0 and (tmp_path / "new" / "keys").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("name, hint", [("Flow Space", "did you mean flow-space?"), ("../x", "did you mean x?"), ("Ω", "such as flowspace")])
def test_a_bad_name_is_one_error_line(name: str, hint: str, tmp_path: Path) -> None:
    code, out = _run(name, home=tmp_path)
    assert code == 2 and out.startswith("Error: NAME") and hint in out and out.count("\n") == 1
    assert not (tmp_path / ".flowstack").exists()
