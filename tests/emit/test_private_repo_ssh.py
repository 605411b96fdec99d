"""A private app repository through a read-only deploy key (issue 22 item 1b), on the agent's sandbox.

What is real: `flowstack deploy-key` making the key pair; the shipped agent script (python3, its
settings file, FLOWSTACK_ROOT tree) applying a bundle built from a config with an ssh URL; git and
the OpenSSH client it runs through the bundle's ssh config (GIT_SSH_COMMAND=ssh -F ...); and a
real OpenSSH sshd (Debian's openssh-server) serving a bare repository through git-shell, with
only the deploy key in its authorized_keys. sshd runs in the sandbox's network namespace on
127.0.0.1:22: no packet leaves it. Replaced: GitHub by that sshd (its host key pinned through
the config's socket.git.known_hosts, as a self-hosted server's would be); `docker` by the
sandbox's recorder; `git` and `ssh` on PATH by wrappers that record each call's argv and
environment (what a process list shows) before running the real program.

Refused on purpose: a host key that does not match the pin (StrictHostKeyChecking=yes: nothing
learnt, nothing cloned), a key the server does not know, and no key at all. The private key must
appear nowhere but in its 0600 file: not in the CLI's output, the zip, the agent's log or status,
any other file of the tree, git's or ssh's argv or environment, or sshd's log.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_agent_sandbox
import yaml
from click.testing import CliRunner
from test_agent_sandbox import Server
from variants import REFERENCE, make_config, merge

from generator.cli import cli
from generator.core.contract import GIT_SSH_KEY_FILE
from generator.emit.bundle import bundle_value
from generator.emit.cloudinit import sample_values

server = test_agent_sandbox.server
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2"),
              pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="openssh-server is not installed (tools/ensure-system-deps.sh installs it)")]

SSHD = "/usr/sbin/sshd"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args], cwd=cwd, check=True, capture_output=True)


def _deploy_key(tmp: Path, name: str) -> tuple[Path, str, str]:
    """`flowstack deploy-key NAME --dir DIR`: (private key file, public line, the CLI's output)."""
    r = CliRunner().invoke(cli, ["deploy-key", name, "--dir", str(tmp / f"keys-{name}")])
    assert r.exit_code == 0, r.output
    private = tmp / f"keys-{name}" / "id_ed25519"
    return private, (tmp / f"keys-{name}" / "id_ed25519.pub").read_text().strip(), r.output


class SshGit:
    """sshd on 127.0.0.1:22 in the namespace: one bare repository, git-shell, one authorized key."""

    def __init__(self, server: Server, authorized: str) -> None:
        tmp = server.tmp
        work, self.repo = tmp / "work", tmp / "srv" / "app.git"
        work.mkdir()
        _git(work, "init", "-q", "-b", "main")
        (work / "server.js").write_text("// private app over ssh\n")
        _git(work, "add", "server.js")
        _git(work, "commit", "-q", "-m", "v1")
        self.repo.parent.mkdir()
        _git(tmp, "clone", "-q", "--bare", str(work), str(self.repo))
        self.host_key = tmp / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)], check=True)
        # Only the deploy key, and it may run git-shell alone (no terminal, no forwarding).
        (tmp / "authorized_keys").write_text(f'restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" {authorized}\n')
        self.log = tmp / "sshd.log"
        config = tmp / "sshd_config"
        config.write_text("\n".join([
            "ListenAddress 127.0.0.1", "Port 22", f"HostKey {self.host_key}", f"PidFile {tmp / 'sshd.pid'}",
            f"AuthorizedKeysFile {tmp / 'authorized_keys'}", "StrictModes no", "UsePAM no", "PermitRootLogin prohibit-password",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "LogLevel VERBOSE", ""]))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory (Debian)
        self.proc = subprocess.Popen(["ip", "netns", "exec", server.ns, SSHD, "-D", "-e", "-f", str(config), "-E", str(self.log)],
                                     start_new_session=True)
        for _ in range(100):
            if server.exec(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/22"], check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("sshd did not listen: " + (self.log.read_text() if self.log.exists() else ""))
        self.url = f"root@127.0.0.1:{self.repo}"
        # Recorders: argv and environment of every git and ssh call (what `ps e` would show), then the real program.
        self.calls, bindir = tmp / "calls.log", tmp / "recbin"
        bindir.mkdir()
        for tool in ("git", "ssh"):
            real = shutil.which(tool)
            (bindir / tool).write_text(f'#!/bin/sh\n{{ echo "{tool} $*"; env; }} >> {self.calls}\nexec {real} "$@"\n')
            (bindir / tool).chmod(0o755)
        self.extra = {"HOME": str(tmp), "GIT_CONFIG_GLOBAL": str(tmp / "no-gitconfig"),
                      "PATH": f"{bindir}:{tmp / 'bin'}:{server.system_bin}"}

    def pin_line(self) -> str:
        return "127.0.0.1 " + " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])

    def close(self) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=10)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, str, str]]:
    return {name: _deploy_key(tmp_path, name) for name in ("flowspace", "other")}


@pytest.fixture
def sshgit(server: Server, keys: dict[str, tuple[Path, str, str]]) -> Iterator[SshGit]:
    s = SshGit(server, keys["flowspace"][1])
    yield s
    s.close()


def _changes(sshgit: SshGit, pin: str) -> dict[str, object]:
    return {"socket": {"git": {"url": sshgit.url, "known_hosts": [pin]}}}


def _config(sshgit: SshGit, pin: str):  # type: ignore[no-untyped-def]
    return make_config(_changes(sshgit, pin))


def _bundle(config, key: Path | None) -> str:  # type: ignore[no-untyped-def]
    """The bundle as Terraform fills it: socket_git_ssh_key_b64 = var.socket_git_ssh_key (the form's base64 of the file)."""
    b64 = base64.b64encode(key.read_bytes()).decode() if key else ""
    return bundle_value(config, sample_values(config) | {"socket_git_ssh_key_b64": b64})


def _fetch(server: Server, sshgit: SshGit, config, key: Path | None):  # type: ignore[no-untyped-def]
    server.serve(_bundle(config, key))
    r, _ = server.agent("--now", "--no-restart", extra=sshgit.extra)
    assert r.returncode == 0, r.stdout + r.stderr
    shutil.rmtree(server.root / "opt/flowstack/app", ignore_errors=True)
    return server.agent("--fetch-source", extra=sshgit.extra)[0]


def _ssh_says(server: Server, sshgit: SshGit) -> str:
    """What ssh says when run as the agent's git ran it (the GIT_SSH_COMMAND it recorded, the same
    files): the agent keeps git's output out of its log, so the reason is asked for here."""
    command = next(line.split("=", 1)[1] for line in reversed(sshgit.calls.read_text().splitlines()) if line.startswith("GIT_SSH_COMMAND="))
    r = server.exec(["sh", "-c", f"{command} root@127.0.0.1 git-upload-pack '{sshgit.repo}' </dev/null"], check=False,
                    env={**sshgit.extra, "FLOWSTACK_ROOT": str(server.root)})
    return r.stderr


def test_the_agent_clones_over_ssh_with_the_deploy_key_and_the_pinned_host_key(
        server: Server, sshgit: SshGit, keys: dict[str, tuple[Path, str, str]], tmp_path: Path) -> None:
    private, _, cli_output = keys["flowspace"]
    config = _config(sshgit, sshgit.pin_line())
    app = server.root / "opt/flowstack/app/server.js"

    # No key given (socket_git_ssh_key left empty): refused with the reason, before ssh runs.
    r = _fetch(server, sshgit, config, None)
    assert r.returncode == 1 and "no deploy key for the ssh git URL" in server.log().splitlines()[-1]

    # A key the server does not know: sshd refuses it, nothing is cloned, no prompt, no hang.
    r = _fetch(server, sshgit, config, keys["other"][0])
    assert r.returncode == 1 and "git clone failed" in server.log().splitlines()[-1] and not app.exists()
    assert "Permission denied (publickey)" in _ssh_says(server, sshgit)

    # The server's host key does not match the pin (a key of another host pinned for 127.0.0.1):
    # ssh refuses before it authenticates; the pinned file is not changed (nothing learnt).
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    wrong_pin = "127.0.0.1 " + " ".join(Path(f"{stranger}.pub").read_text().split()[:2])
    before = sshgit.log.read_text().count("Accepted publickey")
    r = _fetch(server, sshgit, _config(sshgit, wrong_pin), private)
    assert r.returncode == 1 and "git clone failed" in server.log().splitlines()[-1] and not app.exists()
    assert sshgit.log.read_text().count("Accepted publickey") == before
    assert "Host key verification failed" in _ssh_says(server, sshgit)
    assert server.file("/opt/flowstack/git-known-hosts").decode().count("127.0.0.1 ") == 1

    # The right key and the right pin: cloned through sshd and git-shell.
    r = _fetch(server, sshgit, config, private)
    assert r.returncode == 0, server.log()
    assert app.read_text() == "// private app over ssh\n"
    assert "Accepted publickey for root" in sshgit.log.read_text()
    key_file = server.root / GIT_SSH_KEY_FILE.lstrip("/")
    assert key_file.stat().st_mode & 0o777 == 0o600 and key_file.read_bytes() == private.read_bytes()
    calls = sshgit.calls.read_text()
    assert "GIT_SSH_COMMAND=ssh -F '" in calls and "git-ssh-config" in calls  # ssh by the bundle's config, named by path

    # The zip of the same config (the key is a deploy-time variable: no trace of it there).
    cfg = tmp_path / "privssh.yaml"
    cfg.write_text(yaml.safe_dump(merge(yaml.safe_load(REFERENCE.read_text()), _changes(sshgit, sshgit.pin_line())), sort_keys=False))
    zipped = tmp_path / "privssh.zip"
    r = CliRunner().invoke(cli, ["zip", str(cfg), "-o", str(zipped)])
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(zipped) as z:
        zip_text = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())

    # The private key, as PEM text, as its base64 body and as the base64 of the file (what the variable holds).
    pem = private.read_text()
    body = "".join(pem.strip().splitlines()[1:-1])
    secrets = [body, body[:40], base64.b64encode(private.read_bytes()).decode()[:60]]
    found = {"deploy-key output": cli_output, "zip": zip_text, "agent log": server.log(), "status": json.dumps(server.status()),
             "sshd log": sshgit.log.read_text(), "git and ssh argv and environment": calls}
    for path in server.root.rglob("*"):
        if path.is_file() and path != key_file:
            found[str(path.relative_to(server.root))] = path.read_bytes().decode("utf-8", "replace")
    for where, text in found.items():
        for secret in secrets:
            assert secret not in text, f"the private key leaked into {where}"
    assert "PRIVATE KEY" not in cli_output

