"""A private app repository through a token (issue 22, item 1a), on the agent's sandbox.

What is real: the shipped agent script (python3, its settings file, FLOWSTACK_ROOT tree), git
itself, and a private repository served over HTTPS by the real `git http-backend` behind
tests/git_http_server.py, which answers 401 to any request without the token (as GitHub and
GitLab do for a private repository). Both run in the sandbox's network namespace: no packet
leaves it. Replaced: `docker` by the sandbox's recorder (no Docker engine here); the public CA
by a certificate made here and named to git through GIT_CONFIG_GLOBAL (http.sslCAInfo); and
`git` on PATH by a wrapper that records each invocation's argv and environment (what a process
list shows) before running the real git.

The token must reach git only through the credentials file (0600) and the credential helper:
never in the URL, git's argv or environment, the agent's log or status, the git server's log,
or the cloned repository's files. On f81956f there is no such route: the clone gets 401.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_agent_sandbox
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_agent_sandbox import Server, _bundle

from generator.core.contract import GIT_CREDENTIALS_FILE

server = test_agent_sandbox.server
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2")]

HERE = Path(__file__).resolve().parents[1]  # tests/: the support modules
TOKEN = "github_pat_11PRIVATEtok3nNeverPrinted_x9"
PORT = 8443
URL = f"https://127.0.0.1:{PORT}/app.git"


def _cert(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flowstack test git")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / "git-cert.pem", tmp / "git-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args], cwd=cwd, check=True, capture_output=True)


class PrivateRepo:
    def __init__(self, server: Server) -> None:
        tmp = server.tmp
        work, self.root = tmp / "work", tmp / "git-root"
        work.mkdir()
        self.root.mkdir()
        _git(work, "init", "-q", "-b", "main")
        (work / "server.js").write_text("// private app\n")
        _git(work, "add", "server.js")
        _git(work, "commit", "-q", "-m", "v1")
        _git(tmp, "clone", "-q", "--bare", str(work), str(self.root / "app.git"))
        cert, key = _cert(tmp)
        token_file = tmp / "server-token"
        token_file.write_text(TOKEN)
        self.log = tmp / "git-server.log"
        self.proc = subprocess.Popen(["ip", "netns", "exec", server.ns, sys.executable, str(HERE / "git_http_server.py"),
                                      "--root", str(self.root), "--port", str(PORT), "--cert", str(cert), "--key", str(key),
                                      "--user", "x-access-token", "--token-file", str(token_file), "--log", str(self.log)],
                                     start_new_session=True)
        for _ in range(100):
            if server.exec(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{PORT}"], check=False).returncode == 0:
                break
            time.sleep(0.1)
        gitconfig = tmp / "gitconfig"
        gitconfig.write_text(f"[http]\n\tsslCAInfo = {cert}\n[safe]\n\tdirectory = *\n")
        # The recording git: argv and environment of every call (what `ps e` would show), then the real git.
        self.calls = tmp / "git-calls.log"
        bindir = tmp / "gitbin"
        bindir.mkdir()
        real = shutil.which("git")
        (bindir / "git").write_text(f'#!/bin/sh\n{{ printf "%s\\n" "$*"; env; }} >> {self.calls}\nexec {real} "$@"\n')
        (bindir / "git").chmod(0o755)
        self.extra = {"GIT_CONFIG_GLOBAL": str(gitconfig), "HOME": str(tmp), "PATH": f"{bindir}:{tmp / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"}

    def close(self) -> None:
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=10)


@pytest.fixture
def repo(server: Server) -> Iterator[PrivateRepo]:
    r = PrivateRepo(server)
    yield r
    r.close()


def _credentials(server: Server, mode: int, token: str = TOKEN) -> Path:
    path = server.root / GIT_CREDENTIALS_FILE.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"username=x-access-token\npassword={token}\n")
    path.chmod(mode)
    return path


def _everything(server: Server, repo: PrivateRepo, *outputs: str) -> dict[str, str]:
    """Every artefact and log the run left, except the credentials file itself."""
    found = {"agent log": server.log(), "status": json.dumps(server.status()), "git server log": repo.log.read_text(),
             "git argv and environment": repo.calls.read_text() if repo.calls.exists() else "", "outputs": "\n".join(outputs)}
    creds = server.root / GIT_CREDENTIALS_FILE.lstrip("/")
    for path in server.root.rglob("*"):
        if path.is_file() and path != creds:
            found[str(path.relative_to(server.root))] = path.read_bytes().decode("utf-8", "replace")
    return found


def _token_bundle(token: str) -> str:
    """The bundle as Terraform fills it: socket_git_credentials_b64 = base64encode("username=...\\npassword=${var.socket_git_token}\\n")."""
    creds = base64.b64encode(f"username=x-access-token\npassword={token}\n".encode()).decode()
    return _bundle(socket_git_url=URL, socket_git_ref="main", socket_git_credentials_b64=creds)


def test_the_agent_clones_a_private_repository_with_the_token_nowhere_else(server: Server, repo: PrivateRepo) -> None:
    server.serve(_token_bundle(""))  # socket_git_token left empty (its default): a public repository
    r, _ = server.agent("--now", "--no-restart", extra=repo.extra)
    assert r.returncode == 0, r.stdout + r.stderr

    # Without a token: the server wants one (401), the clone fails without a prompt or a hang.
    r, _ = server.agent("--fetch-source", extra=repo.extra)
    assert r.returncode == 1 and "git clone failed" in server.log().splitlines()[-1]
    assert " 401" in repo.log.read_text()

    # A credentials file others can read is refused before git runs.
    _credentials(server, 0o644)
    r, _ = server.agent("--fetch-source", extra=repo.extra)
    assert r.returncode == 1 and "must be 0600" in server.log().splitlines()[-1]

    # A wrong token: 401 again, nothing cloned.
    _credentials(server, 0o600, token="github_pat_wrong")
    r, _ = server.agent("--fetch-source", extra=repo.extra)
    assert r.returncode == 1 and not (server.root / "opt/flowstack/app/server.js").exists()

    # The right token, set at deploy time: the bundle writes the credentials file (0600), the clone works.
    server.serve(_token_bundle(TOKEN))
    r, _ = server.agent("--now", "--no-restart", extra=repo.extra)
    assert r.returncode == 0, r.stdout + r.stderr
    creds = server.root / GIT_CREDENTIALS_FILE.lstrip("/")
    r, _ = server.agent("--fetch-source", extra=repo.extra)
    assert r.returncode == 0, server.log()
    assert server.file("/opt/flowstack/app/server.js") == b"// private app\n"
    assert repo.log.read_text().count(" 200") >= 2  # the smart-HTTP exchange went through the token check
    assert creds.stat().st_mode & 0o777 == 0o600

    for where, text in _everything(server, repo, r.stdout, r.stderr).items():
        assert TOKEN not in text, f"the token leaked into {where}"
    calls = repo.calls.read_text()
    assert "credential.helper=!f()" in calls and URL in calls  # the helper and a bare URL, never user:token@
    assert "x-access-token@" not in calls


@pytest.mark.slow
def test_the_token_stays_out_of_the_zip_the_plan_logs_and_the_terminal(rm_emulator_factory, rm_cli_factory, tmp_path: Path) -> None:
    """rm-apply with --var socket_git_token against the emulator running real Terraform (it replaces
    OCI): the token is sent as a stack variable and appears nowhere the user or a log reader sees."""
    import zipfile

    from click.testing import CliRunner

    from generator.cli import cli

    em = rm_emulator_factory(terraform=True)
    cfg = tmp_path / "private.yaml"
    reference = (HERE.parent / "stacks" / "flowspace.yaml").read_text()
    cfg.write_text(reference.replace("https://github.com/your-repo/flow_metaverse.git", "https://github.com/you/private-app.git"))
    rm = rm_cli_factory(em, cfg)
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh me"
    first = rm("rm-apply", "--auto-approve", "--var", f"ssh_public_key={key}", "--var", "ssh_source_cidr=203.0.113.7/32",
               "--var", f"socket_git_token={TOKEN}")
    assert first.exit_code == 0, first.output
    assert "socket_git_token=********" in first.stderr
    # A second deploy (a new token): the server diff names the credentials file but never shows it.
    again = rm("rm-apply", "--auto-approve", "--var", f"socket_git_token={TOKEN}2")
    assert again.exit_code == 0, again.output
    logs = rm("rm-logs")
    zipped = tmp_path / "private.zip"
    assert CliRunner().invoke(cli, ["zip", str(cfg), "-o", str(zipped)]).exit_code == 0
    with zipfile.ZipFile(zipped) as z:
        zip_text = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    seen = {"first rm-apply": first.output, "second rm-apply": again.output, "job log": logs.output, "zip": zip_text,
            "emulator log": em.log_file.read_text() if em.log_file.exists() else ""}
    for where, text in seen.items():
        assert TOKEN not in text, f"the token leaked into {where}"
    stack = next(s for s in em.client().list_stacks(compartment_id=em.compartment_id).data if s.display_name == "flowspace")
    assert em.client().get_stack(stack.id).data.variables["socket_git_token"] == f"{TOKEN}2"  # it was sent
