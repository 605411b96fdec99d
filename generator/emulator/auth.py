"""OCI HTTP-signature verification, the server side of ``oci.signer.Signer``.

OCI signs every request with draft-cavage HTTP Signatures (version "1"):

    authorization: Signature version="1",keyId="<tenancy>/<user>/<fingerprint>",
                   algorithm="rsa-sha256",headers="date (request-target) host ...",
                   signature="<base64 RSA-PKCS1v15-SHA256 of the signing string>"

The signing string is one ``name: value`` line per listed header, joined by ``\\n``;
``(request-target)`` is ``<method lower-case> <path?query as sent>``.  The SDK signs
``date (request-target) host`` on every request and adds
``content-length content-type x-content-sha256`` on POST/PUT/PATCH, where
``x-content-sha256`` is the base64 SHA-256 of the body.  A key is named by its
fingerprint: the MD5 of the DER SubjectPublicKeyInfo as colon-separated lower-case hex
(what ``openssl rsa -pubout -outform DER | openssl md5 -c`` prints).

The emulator has no identity service: any tenancy/user OCID is accepted, and a request is
authentic when its fingerprint names one of the public keys the emulator was started
with and the signature verifies against it.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import email.utils
import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .atomic import write_atomically
from .errors import CredentialsError

# OCI rejects requests whose date is more than five minutes away from its clock; doing the
# same catches a client that re-sends a stale signed request.
MAX_CLOCK_SKEW_SECONDS = 300

# What the SDK signs (oci/signer.py: generic_headers / body_headers).
GENERIC_HEADERS = ("(request-target)", "host")
BODY_HEADERS = ("content-length", "content-type", "x-content-sha256")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

_PARAM = re.compile(r'(\w+)="([^"]*)"')


class AuthError(Exception):
    """A request that is not authentic; ``detail`` says why (the API answers 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Principal:
    """Who signed a request, as named by its keyId."""

    tenancy: str
    user: str
    fingerprint: str


def fingerprint_of(public_key: rsa.RSAPublicKey) -> str:
    """OCI API-key fingerprint: MD5 of the DER SubjectPublicKeyInfo, colon-separated hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.md5(der).hexdigest()  # noqa: S324 - a fingerprint, not a security hash
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def load_public_key(source: str | Path) -> rsa.RSAPublicKey:
    """Load an RSA public key from a PEM file path or from PEM text.

    A private-key PEM is accepted too (its public half is used), so the emulator can be
    started with the very ``key_file`` an OCI config names.
    """
    text: bytes
    label = str(source)
    if isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        text, label = source.encode(), "inline PEM"
    else:
        path = Path(source).expanduser()
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise CredentialsError(f"public key {path}: cannot read ({exc.strerror})") from exc
    key: object
    try:
        key = serialization.load_pem_public_key(text)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(text, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise CredentialsError(
                f"public key {label}: not an unencrypted PEM RSA key ({exc})"
            ) from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise CredentialsError(f"public key {label}: OCI API keys are RSA, got {type(key).__name__}")
    return key


class KeyRing:
    """The public keys the emulator trusts, by fingerprint."""

    def __init__(self, keys: Iterable[rsa.RSAPublicKey] = ()) -> None:
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        for key in keys:
            self.add(key)

    @classmethod
    def from_sources(cls, sources: Iterable[str | Path]) -> KeyRing:
        return cls(load_public_key(source) for source in sources)

    def add(self, key: rsa.RSAPublicKey) -> str:
        fingerprint = fingerprint_of(key)
        self._keys[fingerprint] = key
        return fingerprint

    @property
    def fingerprints(self) -> list[str]:
        return sorted(self._keys)

    def get(self, fingerprint: str) -> rsa.RSAPublicKey | None:
        return self._keys.get(fingerprint.lower())

    def __len__(self) -> int:
        return len(self._keys)


def parse_authorization(value: str) -> dict[str, str]:
    """Split ``Signature k="v",k="v"`` into a dict (keys lower-cased)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "signature":
        raise AuthError("authorization header does not use the Signature scheme")
    params = {k.lower(): v for k, v in _PARAM.findall(rest)}
    for required in ("keyid", "signature", "headers"):
        if required not in params:
            raise AuthError(f'authorization header has no {required} parameter')
    return params


def body_sha256(body: bytes) -> str:
    """The ``x-content-sha256`` value for a body: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def verify_request(
    keys: KeyRing,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> Principal:
    """Check one request's OCI signature; return who signed it or raise `AuthError`.

    ``target`` is the request target exactly as received (path and query), ``headers``
    a case-insensitive mapping of the received headers (``http.client.HTTPMessage``).
    """
    method = method.upper()
    authorization = headers.get("authorization")
    if not authorization:
        raise AuthError("the request is not signed (no authorization header)")
    params = parse_authorization(authorization)
    if params.get("version", "1") != "1":
        raise AuthError(f'unsupported signature version "{params["version"]}"')
    if params.get("algorithm", "rsa-sha256").lower() != "rsa-sha256":
        raise AuthError(f'unsupported signature algorithm "{params["algorithm"]}"')
    principal, public_key = _signer(keys, params["keyid"])
    signed = [h.lower() for h in params["headers"].split()]
    _check_signed_headers(method, signed)
    _check_signature(public_key, params["signature"], _signing_string(method, target, headers, signed))

    # Checked after the signature, so a forged date cannot slip through.
    date_header = headers.get("x-date") if "x-date" in signed else headers.get("date")
    _check_date(date_header or "", time.time() if now is None else now)
    if method in BODY_METHODS:
        _check_body(headers, body)
    return principal


def _signer(keys: KeyRing, key_id: str) -> tuple[Principal, rsa.RSAPublicKey]:
    """Who a keyId names, and the registered public key of its fingerprint."""
    parts = key_id.split("/")
    if len(parts) != 3 or not all(parts):
        # Session tokens ("ST$...") and instance principals have other keyId shapes;
        # the emulator only knows API keys.
        raise AuthError('keyId is not "<tenancy ocid>/<user ocid>/<key fingerprint>"')
    principal = Principal(tenancy=parts[0], user=parts[1], fingerprint=parts[2].lower())
    public_key = keys.get(principal.fingerprint)
    if public_key is None:
        raise AuthError(f"no public key with fingerprint {principal.fingerprint} is registered")
    return principal, public_key


def _check_signed_headers(method: str, signed: list[str]) -> None:
    """The SDK's headers (and the body's, for POST/PUT/PATCH) must all be signed."""
    required = list(GENERIC_HEADERS)
    required.append("date" if "date" in signed or "x-date" not in signed else "x-date")
    if method in BODY_METHODS:
        required.extend(BODY_HEADERS)
    missing = [h for h in required if h not in signed]
    if missing:
        raise AuthError(f"these headers must be signed: {', '.join(missing)}")


def _signing_string(method: str, target: str, headers: Mapping[str, str], signed: list[str]) -> bytes:
    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
            continue
        value = headers.get(name)
        if value is None:
            raise AuthError(f'signed header "{name}" is missing from the request')
        lines.append(f"{name}: {value}")
    return "\n".join(lines).encode("utf-8")


def _check_signature(public_key: rsa.RSAPublicKey, encoded: str, signing_string: bytes) -> None:
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AuthError("signature is not valid base64") from exc
    try:
        public_key.verify(signature, signing_string, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise AuthError("the signature does not match the request and key") from exc


def _check_body(headers: Mapping[str, str], body: bytes) -> None:
    """A signed body's content-length and x-content-sha256 must match what arrived."""
    declared = headers.get("content-length", "")
    if declared.strip() != str(len(body)):
        raise AuthError(f"content-length {declared!r} does not match the body ({len(body)} bytes)")
    if headers.get("x-content-sha256", "") != body_sha256(body):
        raise AuthError("x-content-sha256 does not match the body")


def _check_date(value: str, now: float) -> None:
    try:
        when: datetime = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise AuthError(f"date header {value!r} is not an HTTP date") from exc
    if when.tzinfo is None:
        raise AuthError(f"date header {value!r} has no time zone")
    skew = abs(when.timestamp() - now)
    if skew > MAX_CLOCK_SKEW_SECONDS:
        raise AuthError(
            f"date header {value!r} is {int(skew)} s away from the server clock "
            f"(at most {MAX_CLOCK_SKEW_SECONDS} s allowed)"
        )


@dataclass(frozen=True)
class DemoCredentials:
    """A generated API key and the OCI config file that uses it."""

    config_file: Path
    key_file: Path
    public_key_file: Path
    profile: str
    user: str
    tenancy: str
    fingerprint: str
    region: str

    def as_config(self) -> dict[str, str]:
        """The dict ``oci.config.from_file`` would return for this profile."""
        return {
            "user": self.user,
            "tenancy": self.tenancy,
            "fingerprint": self.fingerprint,
            "key_file": str(self.key_file),
            "region": self.region,
        }


def _write_key_pair(key_file: Path, public_key_file: Path) -> str:
    """A new 2048-bit RSA key (private PEM mode 0600, public PEM); returns its fingerprint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # Mode 0600 from the first byte (the OCI CLI warns about key files others can read).
    write_atomically(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                                 serialization.NoEncryption()), 0o600)
    write_atomically(public_key_file, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return fingerprint_of(key.public_key())


def write_demo_credentials(
    directory: str | Path,
    *,
    profile: str = "DEFAULT",
    region: str = "ap-chuncheon-1",
    name: str = "emulator",
    with_compartment: bool = False,
) -> DemoCredentials:
    """Generate an RSA key pair and an OCI config file naming it, for use with the emulator.

    The OCIDs are made up (the emulator has no identity service) but have the shape
    ``oci.config.validate_config`` wants.  Files: ``<name>_api_key.pem`` (mode 0600),
    ``<name>_api_key_public.pem`` and ``config``.  ``with_compartment`` also writes
    ``compartment_ocid`` (the tenancy), which flowstack's rm-* commands read as their
    default compartment.
    """
    # Absolute: the config file is read from other working directories.
    directory = Path(directory).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / f"{name}_api_key.pem"
    public_key_file = directory / f"{name}_api_key_public.pem"
    fingerprint = _write_key_pair(key_file, public_key_file)
    tag = hashlib.sha256(fingerprint.encode()).hexdigest()[:52]
    tenancy = f"ocid1.tenancy.oc1..aaaaaaaa{tag}"
    user = f"ocid1.user.oc1..aaaaaaaa{tag[::-1]}"
    config_file = directory / "config"
    write_atomically(config_file, (
        f"[{profile}]\n"
        f"user={user}\n"
        f"fingerprint={fingerprint}\n"
        f"tenancy={tenancy}\n"
        f"region={region}\n"
        f"key_file={key_file}\n"
        + (f"compartment_ocid={tenancy}\n" if with_compartment else "")).encode("utf-8"), 0o600)
    return DemoCredentials(
        config_file=config_file,
        key_file=key_file,
        public_key_file=public_key_file,
        profile=profile,
        user=user,
        tenancy=tenancy,
        fingerprint=fingerprint,
        region=region,
    )


def ensure_demo_credentials(directory: str | Path, *, profile: str = "DEFAULT") -> DemoCredentials:
    """The demo key and config in ``directory``: reused when there, generated when not
    (with ``compartment_ocid``, so rm-* commands need no ``--compartment``).

    Reuse keeps the fingerprint stable across emulator restarts, so a config file a user
    already points flowstack at stays valid.
    """
    directory = Path(directory).expanduser().resolve()
    config_file = directory / "config"
    public_key_file = directory / "emulator_api_key_public.pem"
    if config_file.is_file() and public_key_file.is_file():
        parser = configparser.ConfigParser()
        parser.read(config_file, encoding="utf-8")
        if parser.has_section(profile) or profile == "DEFAULT":
            section = parser[profile]
            try:
                return DemoCredentials(
                    config_file=config_file,
                    key_file=Path(section["key_file"]),
                    public_key_file=public_key_file,
                    profile=profile,
                    user=section["user"],
                    tenancy=section["tenancy"],
                    fingerprint=fingerprint_of(load_public_key(public_key_file)),
                    region=section.get("region", "ap-chuncheon-1"),
                )
            except KeyError as exc:
                raise CredentialsError(f"{config_file}: profile [{profile}] has no {exc.args[0]}; delete the directory to regenerate it") from exc
    return write_demo_credentials(directory, profile=profile, with_compartment=True)
