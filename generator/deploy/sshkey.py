"""The local check of ``--var ssh_public_key``: exactly one OpenSSH public key line.

Resource Manager would accept anything (the variable is a string), and cloud-init writes
whatever it gets into ``authorized_keys``: an empty value (``$(cat missing.pub)``), a typo
or a private key pasted by mistake leaves a server nobody can log in to, or worse. So
rm-apply/rm-plan check it before anything is sent: ``TYPE BASE64 [COMMENT]``, the blob
valid base64 whose embedded type (the first SSH string in it) equals TYPE.

>>> check_ssh_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh me@host")
'ssh-ed25519'
"""

from __future__ import annotations

from generator.config.inputguard import ssh_public_key_problem
from generator.core.errors import InvalidVariable

NAME = "ssh_public_key"
_RIGHT = "one OpenSSH public key line, TYPE BASE64 [COMMENT], e.g. the content of ~/.ssh/id_ed25519.pub"


def _shown(value: str) -> str:
    """The value as the error repeats it: short, one line (a public key is not a secret)."""
    one = value.replace("\n", "\\n")
    return repr(one if len(one) <= 40 else one[:37] + "...")


def check_ssh_public_key(value: str) -> str:
    """The key type of ``value`` when it is exactly one OpenSSH public key; else `InvalidVariable`.

    The rule itself is the stack's one ssh key rule (`inputguard.ssh_public_key_problem`, also
    behind `--var` and variables.tf's validation); this adds what rm-* can say about an empty
    value or a pasted private key."""
    if "PRIVATE KEY" in value:
        # Never repeated: it is a private key.
        raise InvalidVariable(NAME, "(not shown)", f"this is a PRIVATE key; give its public half (the .pub file): {_RIGHT}")
    if not value.strip():
        raise InvalidVariable(NAME, "''", f"empty (did `cat` find the file?); expected {_RIGHT}")
    problem = ssh_public_key_problem(value)
    if problem:
        raise InvalidVariable(NAME, _shown(value), f"{problem}; expected {_RIGHT}")
    return value.split()[0]
