"""The local check of ``--var ssh_public_key``: exactly one OpenSSH public key line.

Resource Manager would accept anything (the variable is a string), and cloud-init writes
whatever it gets into ``authorized_keys``: an empty value (``$(cat missing.pub)``), a typo
or a private key pasted by mistake leaves a server nobody can log in to, or worse. So
rm-apply/rm-plan check it before anything is sent: ``TYPE BASE64 [COMMENT]``, the blob
valid base64 whose embedded type (the first SSH string in it) equals TYPE.

>>> check_ssh_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNhbXBsZSBrZXkgZm9yIHRlc3RzIG9ubHkgISEhISE= me@host")
'ssh-ed25519'
"""

from __future__ import annotations

import base64
import binascii
import struct

from generator.core.errors import InvalidVariable

NAME = "ssh_public_key"
# What OpenSSH 8.9 (Ubuntu 22.04's sshd) accepts by default; ssh-dss is off since 7.0.
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
             "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
_RIGHT = "one OpenSSH public key line, TYPE BASE64 [COMMENT], e.g. the content of ~/.ssh/id_ed25519.pub"


def _shown(value: str) -> str:
    """The value as the error repeats it: short, one line (a public key is not a secret)."""
    one = value.replace("\n", "\\n")
    return repr(one if len(one) <= 40 else one[:37] + "...")


def check_ssh_public_key(value: str) -> str:
    """The key type of ``value`` when it is exactly one OpenSSH public key; else `InvalidVariable`."""
    if "PRIVATE KEY" in value:
        # Never repeated: it is a private key.
        raise InvalidVariable(NAME, "(not shown)", f"this is a PRIVATE key; give its public half (the .pub file): {_RIGHT}")
    text = value.strip()
    if not text:
        raise InvalidVariable(NAME, "''", f"empty (did `cat` find the file?); expected {_RIGHT}")
    if "\n" in text or "\r" in text:
        raise InvalidVariable(NAME, _shown(value), f"{len(text.splitlines())} lines; expected {_RIGHT}")
    words = text.split(None, 2)
    kind = words[0]
    if kind not in KEY_TYPES:
        hint = "ssh-dss (DSA) keys are refused by Ubuntu's sshd; make one with ssh-keygen -t ed25519" if kind == "ssh-dss" \
            else f"the first word must be the key type, one of {', '.join(KEY_TYPES)}"
        raise InvalidVariable(NAME, _shown(value), f"{hint}; expected {_RIGHT}")
    if len(words) < 2:
        raise InvalidVariable(NAME, _shown(value), f"the base64 key after {kind} is missing; expected {_RIGHT}")
    try:
        blob = base64.b64decode(words[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4:4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError, ValueError):
        raise InvalidVariable(NAME, _shown(value), f"the key after {kind} is not valid base64 of an SSH key; expected {_RIGHT}") from None
    if embedded != kind or len(blob) <= 4 + length:
        raise InvalidVariable(NAME, _shown(value), f"the key says {kind} but its data is {embedded or 'not a key'!r} (a damaged copy?); expected {_RIGHT}")
    return kind
