"""OCI credentials: an OCI config file (or instance / resource principals) -> config and signer.

Every way that can go wrong becomes one `OciConfigError` line, before any request.

>>> load_oci_config("/nonexistent")  # doctest: +SKIP
Traceback (most recent call last):
OciConfigError: OCI config file /nonexistent not found ...
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import oci

from generator.core.errors import OciConfigError, did_you_mean

from .oci_defaults import AUTH_METHODS, DEFAULT_CONFIG_FILE, DEFAULT_PROFILE


def load_oci_config(
    config_file: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    auth: str = "api_key",
) -> tuple[dict[str, Any], Any]:
    """Return ``(config, signer)`` for ``auth``, or raise one-line `OciConfigError`s.

    ``api_key`` reads ``config_file`` (default ``~/.oci/config``) and loads the key now,
    so a missing, unreadable or malformed key is reported before any request is made.
    """
    if auth not in AUTH_METHODS:
        raise OciConfigError(f"unknown --auth {auth!r}; expected one of {', '.join(AUTH_METHODS)}")
    if auth == "instance_principal":
        return _principal_config("instance principal", oci.auth.signers.InstancePrincipalsSecurityTokenSigner)
    if auth == "resource_principal":
        return _principal_config("resource principal", oci.auth.signers.get_resource_principals_signer)

    path = os.path.expanduser(os.fspath(config_file or DEFAULT_CONFIG_FILE))
    profile = profile or DEFAULT_PROFILE
    config = _read_profile(path, profile)
    signer = _api_key_signer(config, path, profile)
    config["_flowstack_source"] = f"profile {profile} in {path}"
    return config, signer


def _read_profile(path: str, profile: str) -> dict[str, Any]:
    """The profile's config dict, validated by the SDK; one `OciConfigError` line for each way it can be wrong."""
    if not os.path.isfile(path):
        raise OciConfigError(
            f"OCI config file {path} not found: create it with `flowstack oci-setup` (see docs/deploy.md) or pass --config-file"
        )
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except PermissionError:
        raise OciConfigError(f"OCI config file {path} is not readable (permission denied)") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise OciConfigError(f"OCI config file {path} is not a valid config file: {first}") from None
    if profile not in parser and profile != parser.default_section:
        known = [parser.default_section] if parser.defaults() else []
        known += parser.sections()
        hint = did_you_mean(profile, known) or f" (profiles: {', '.join(known) or 'none'})"
        raise OciConfigError(f"profile {profile!r} not found in {path}{hint}")
    try:
        config = oci.config.from_file(path, profile)
    except oci.exceptions.InvalidKeyFilePath:
        key_file = os.path.expanduser(parser[profile].get("key_file", ""))
        raise OciConfigError(f"key_file {key_file} of profile {profile} in {path} does not exist") from None
    except (oci.exceptions.ClientError, ValueError) as exc:
        raise OciConfigError(f"OCI config {path} [{profile}]: {first_line(exc)}") from None
    try:
        oci.config.validate_config(config)
    except oci.exceptions.InvalidConfig as exc:
        problems = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        detail = ", ".join(f"{key} is {state}" for key, state in sorted(problems.items())) or first_line(exc)
        raise OciConfigError(f"OCI config {path} [{profile}]: {detail}") from None
    return config


def _api_key_signer(config: dict[str, Any], path: str, profile: str) -> Any:
    """The request signer of an API-key profile, with its key loaded now (not at the first request)."""
    try:
        signer = oci.signer.Signer(
            tenancy=config["tenancy"],
            user=config["user"],
            fingerprint=config["fingerprint"],
            private_key_file_location=config.get("key_file"),
            pass_phrase=oci.config.get_config_value_or_default(config, "pass_phrase"),
            private_key_content=config.get("key_content"),
        )
    except oci.exceptions.MissingPrivateKeyPassphrase:
        raise OciConfigError(
            f"the key {config.get('key_file')} of profile {profile} is encrypted: add pass_phrase to {path}"
        ) from None
    except oci.exceptions.InvalidPrivateKey:
        raise OciConfigError(
            f"the key {config.get('key_file')} of profile {profile} is not a PEM private key"
            " (or its pass_phrase is wrong)"
        ) from None
    except PermissionError:
        raise OciConfigError(f"the key {config.get('key_file')} of profile {profile} is not readable") from None
    except (OSError, ValueError) as exc:
        raise OciConfigError(
            f"the key {config.get('key_file')} of profile {profile} cannot be loaded: {first_line(exc)}"
        ) from None
    return signer


def _principal_config(kind: str, make_signer: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    try:
        signer = make_signer()
    except Exception as exc:  # the SDK raises many unrelated types here; all mean "not available"
        raise OciConfigError(f"{kind} authentication is not available here: {first_line(exc)}") from None
    config = {
        "region": getattr(signer, "region", None) or os.environ.get("OCI_REGION", ""),
        "tenancy": getattr(signer, "tenancy_id", None) or "",
        "_flowstack_source": kind,
    }
    return config, signer


def first_line(exc: BaseException) -> str:
    text = str(exc.args[0] if len(exc.args) == 1 else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def resolve_compartment(config: Mapping[str, Any], compartment: str | None) -> str:
    """The compartment to deploy into: ``--compartment``, else ``compartment_ocid`` in the profile."""
    value = compartment or config.get("compartment_ocid") or config.get("compartment_id")
    source = config.get("_flowstack_source", "the OCI config")
    if not value:
        raise OciConfigError(f"no compartment: pass --compartment OCID (or set compartment_ocid in {source})")
    if not re.fullmatch(r"ocid1\.(compartment|tenancy)\.[a-z0-9-]+\.[a-z0-9-]*\.[A-Za-z0-9._-]+", value):
        raise OciConfigError(
            f"compartment {value!r} is not a compartment OCID (ocid1.compartment.oc1..<id> or the tenancy OCID)"
        )
    return value
