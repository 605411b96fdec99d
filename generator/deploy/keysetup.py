"""`flowstack oci-setup`: an OCI API signing key pair and a config profile, without the OCI CLI.

rm-apply and status sign their requests with an API key named in an OCI config file
(``~/.oci/config``). Oracle's own tool for it, ``oci setup config``, ships with the OCI CLI,
which flowstack does not install. This writes the same three things:

* an RSA 2048 private key, PEM (PKCS#8), mode 0600, in a directory of mode 0700;
* its public half (PEM), to paste in the console (User settings -> API keys);
* a ``[PROFILE]`` section (user, fingerprint, tenancy, region, key_file, and compartment_ocid:
  the tenancy, i.e. the root compartment, unless another is given) appended to the config.

Nothing existing is overwritten: a profile already in the file or a key file already there
is refused (`OciConfigError`, one line) before anything is written. The fingerprint is the
colon-separated MD5 of the public key's DER, as the console shows it.

>>> fingerprint_of(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()).count(":")
15
"""

from __future__ import annotations

import configparser
import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from generator.core.errors import OciConfigError
from generator.core.regions import known_regions, region_timezone

KEY_BITS = 2048
_OCID = {"user": r"ocid1\.user\.oc1\.\.[a-z0-9]{20,}", "tenancy": r"ocid1\.tenancy\.oc1\.\.[a-z0-9]{20,}",
         "compartment": r"ocid1\.(compartment|tenancy)\.oc1\.\.[a-z0-9]{20,}"}
_WHERE = {"user": "console -> Profile (top right) -> User settings (or My profile) -> OCID -> Copy",
          "tenancy": "console -> Profile (top right) -> Tenancy: <name> -> OCID -> Copy",
          "compartment": "console -> Identity & Security -> Compartments -> your compartment -> OCID -> Copy"}


@dataclass(frozen=True)
class KeySetup:
    """What was written, and what the user does next in the console."""

    config_file: Path
    profile: str
    key_file: Path
    public_key_file: Path
    fingerprint: str
    public_pem: str

    def steps(self) -> list[str]:
        return [
            "Upload the public key in the OCI console:",
            "  1. Profile (top right) -> User settings (or My profile) -> Tokens and keys / API keys -> Add API key",
            f"  2. Choose 'Paste a public key' and paste the contents of {self.public_key_file}:",
            *[f"     {line}" for line in self.public_pem.strip().splitlines()],
            f"  3. Add. The console lists the key with fingerprint {self.fingerprint}: it must be this one.",
            f"Then rm-apply and status use it: --config-file {self.config_file} --profile {self.profile}"
            + (" (the defaults)" if self.profile == "DEFAULT" and str(self.config_file) == str(Path("~/.oci/config").expanduser()) else ""),
        ]


def fingerprint_of(public_key: rsa.RSAPublicKey) -> str:
    """OCI's key fingerprint: MD5 over the DER SubjectPublicKeyInfo, as ``aa:bb:...``."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.md5(der, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def _check_ocid(kind: str, value: str) -> str:
    value = value.strip()
    if not re.fullmatch(_OCID[kind], value):
        raise OciConfigError(f"--{kind} {value!r}: not a {kind} OCID (ocid1.{kind}.oc1..aaaa...); copy it from the {_WHERE[kind]}")
    return value


def _check_region(region: str) -> str:
    if region_timezone(region) is None:
        known = known_regions()
        close = difflib.get_close_matches(region, known, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else f"; e.g. {', '.join(known[:3])}"
        raise OciConfigError(f"--region {region!r}: not an OCI region identifier{hint}")
    return region


def setup_api_key(config_file: str | Path, profile: str, *, user: str, tenancy: str, region: str,
                  key_file: str | Path | None = None, compartment: str | None = None) -> KeySetup:
    """Write a new key pair and append ``[profile]`` to ``config_file``; refuse to overwrite anything."""
    user, tenancy, region = _check_ocid("user", user), _check_ocid("tenancy", tenancy), _check_region(region)
    compartment = _check_ocid("compartment", compartment) if compartment else None
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", profile):
        raise OciConfigError(f"--profile {profile!r}: letters, digits, '_', '.', '-' only, e.g. DEFAULT or flowstack")
    config_path = Path(config_file).expanduser().absolute()
    key_path = Path(key_file).expanduser().absolute() if key_file else config_path.parent / f"flowstack_api_key_{profile.lower()}.pem"
    public_path = key_path.with_name(key_path.stem + "_public.pem")
    existing = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(existing)
    except configparser.Error as exc:
        raise OciConfigError(f"OCI config {config_path}: cannot be read ({str(exc).splitlines()[0]}); nothing written") from None
    if parser.has_section(profile) or (profile == "DEFAULT" and parser.defaults()):
        raise OciConfigError(f"OCI config {config_path} already has a [{profile}] profile; nothing written "
                             f"(choose another with --profile NAME, or edit the file yourself)")
    for path in (key_path, public_path):
        if path.exists():
            raise OciConfigError(f"{path} already exists; nothing written (pass --key-file NEW.pem, or move it away)")
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fingerprint = fingerprint_of(private.public_key())
    for directory in {key_path.parent, config_path.parent}:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_new(key_path, pem, 0o600)
    _write_new(public_path, public_pem, 0o644)
    section = (f"[{profile}]\nuser={user}\nfingerprint={fingerprint}\ntenancy={tenancy}\nregion={region}\nkey_file={key_path}\n"
               + f"compartment_ocid={compartment or tenancy}\n")
    joined = existing + ("\n" if existing and not existing.endswith("\n") else "") + ("\n" if existing else "") + section
    tmp = config_path.with_name(f".{config_path.name}.flowstack-tmp")
    _write_new(tmp, joined.encode("utf-8"), 0o600, replace=True)
    os.replace(tmp, config_path)  # atomic: the old config or the new, never half of one
    return KeySetup(config_path, profile, key_path, public_path, fingerprint, public_pem.decode("ascii"))


def _write_new(path: Path, data: bytes, mode: int, replace: bool = False) -> None:
    """Create ``path`` with ``mode`` from the start (never briefly readable by others)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, mode)
