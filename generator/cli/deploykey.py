"""`flowstack deploy-key`: a read-only deploy key for a private app repository (issue 22 item 1b).

The deploy-key route of `socket.git` clones over ssh. The key pair is made here, on the user's
machine, not by Terraform's ``tls_private_key``: that resource keeps the private key in the
Terraform state in plain text (Resource Manager's state file, readable by anyone who may read
the stack), and the ``hashicorp/tls`` provider cannot be fetched where flowstack is built and
tested (docs/deploy.md). The private half reaches the server only as the sensitive deploy-time
variable ``socket_git_ssh_key`` (``--var socket_git_ssh_key=@FILE`` or the console form's
upload); it is never printed, and never written into the zip.

Writes ``id_ed25519`` (0600) and ``id_ed25519.pub`` (0644) in a directory of mode 0700, default
``~/.flowstack/deploy-keys/NAME``. Overwrites nothing: an existing key file is one ``Error:`` line.

>>> deploy_key_command.name
'deploy-key'
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

import click

from generator.core.errors import FlowstackError

DEFAULT_DIR = "~/.flowstack/deploy-keys"
KEY_NAME = "id_ed25519"


class DeployKeyError(FlowstackError):
    """A deploy key that cannot be made as asked (nothing is written)."""

    exit_code = 2


def fingerprint(public_line: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line, as GitHub and GitLab list deploy keys.

    >>> fingerprint("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
    'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU'
    """
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def make_key(directory: Path, comment: str) -> tuple[Path, str]:
    """Write a new Ed25519 pair into ``directory`` (made 0700); return the private file and the public line."""
    # cryptography: already a dependency (the oci SDK's), and no ssh-keygen needed on the user's machine.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private, public = directory / KEY_NAME, directory / f"{KEY_NAME}.pub"
    for path in (private, public):
        if path.exists() or path.is_symlink():
            raise DeployKeyError(f"{path} already exists; nothing written (pass another NAME or --dir, or move it away)")
    if directory.exists() and directory.stat().st_mode & 0o077:
        raise DeployKeyError(f"{directory} is open to other users (mode {directory.stat().st_mode & 0o777:o}); "
                             f"nothing written (chmod 700 {directory}, or pass another --dir)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii") + f" {comment}"
    _write_new(private, pem, 0o600)
    _write_new(public, (line + "\n").encode("ascii"), 0o644)
    return private, line


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (never briefly readable by others); never replace one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def steps(name: str, private: Path, line: str) -> list[str]:
    """What to do with the pair: where to paste the public half, how the deploy gets the private one."""
    return [
        f"Wrote {private} (private key, mode 0600, in a 0700 directory) and {private}.pub",
        f"Public key ({fingerprint(line)}):",
        f"  {line}",
        "Add it to the app's repository as a READ-ONLY deploy key (paste the line above):",
        f"  GitHub: the repository -> Settings -> Deploy keys -> Add deploy key; title: flowstack {name};"
        " leave 'Allow write access' unticked.",
        f"  GitLab: the project -> Settings -> Repository -> Deploy keys -> Add new key; title: flowstack {name};"
        " leave 'Grant write permissions to this key' unticked.",
        "In the config, the repository's ssh URL (it turns the deploy-key route on):",
        "  socket:\n    git:\n      url: git@github.com:OWNER/REPO.git",
        "Give the private half to the deploy (it is never written into the zip; never commit it):",
        f"  rm-apply: flowstack rm-apply CONFIG --var socket_git_ssh_key=@{private}",
        f"  console:  the stack's form -> Secrets -> 'App repository deploy key (file)' -> upload {private}",
    ]


@click.command("deploy-key")
@click.argument("name")
@click.option("--dir", "directory", metavar="DIR", help=f"Directory for the pair (made 0700); default {DEFAULT_DIR}/NAME.")
def deploy_key_command(name: str, directory: str | None) -> None:
    """Make a read-only deploy key (Ed25519) for a private app repository cloned over ssh.

    Prints the public key, where to paste it on GitHub or GitLab, and how to give the private
    key to rm-apply or the console form. Overwrites nothing; never prints the private key.

    \b
    Example:
      flowstack deploy-key flowspace
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", name):
        suggestion = re.sub(r"[^a-z0-9._-]", "-", name.lower()).strip("-._")[:63]
        hint = f" (did you mean {suggestion}?)" if suggestion else " such as flowspace"
        raise DeployKeyError(f"NAME {name!r}: lower-case letters, digits and . _ - only{hint}")
    folder = Path(directory or f"{DEFAULT_DIR}/{name}").expanduser().absolute()
    private, line = make_key(folder, f"flowstack-deploy-{name}")
    for text in steps(name, private, line):
        click.echo(text)
