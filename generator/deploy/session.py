"""One OCI session: the config, signer and compartment every OCI command starts from.

`flowstack rm-*` and `flowstack status` (and any new command that talks to OCI) open it the
same way, from the same options (`generator/cli/options.py`): the profile of an OCI config
file, how to sign, the compartment (default: compartment_ocid in the profile) and an
optional endpoint (the emulator's, in tests).

>>> OciOptions("~/.oci/config", "DEFAULT", "api_key", None, None).profile
'DEFAULT'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import ociauth
from .rm import Deployer


@dataclass(frozen=True)
class OciOptions:
    """What the user said about reaching OCI (the shared command-line options)."""

    config_file: str
    profile: str
    auth: str
    compartment: str | None
    endpoint: str | None

    @classmethod
    def from_opts(cls, opts: dict[str, Any]) -> OciOptions:
        """From a command's keyword options (the names `cli/options.oci_options` gives them)."""
        return cls(opts["oci_config_file"], opts["profile"], opts["auth"], opts.get("compartment"), opts.get("endpoint"))


@dataclass(frozen=True)
class Session:
    """A loaded OCI config, its signer and the compartment resolved once."""

    config: dict[str, Any]
    signer: Any
    compartment: str
    endpoint: str | None

    def deployer(self, **kwargs: Any) -> Deployer:
        """A Resource Manager `Deployer` on this session (``kwargs``: hooks, retry, follow_timeout)."""
        return Deployer(self.config, self.signer, endpoint=self.endpoint, **kwargs)


def open_session(options: OciOptions) -> Session:
    """Load the OCI config and signer and resolve the compartment; raises a `FlowstackError` naming what is missing."""
    config, signer = ociauth.load_oci_config(options.config_file, options.profile, options.auth)
    compartment = ociauth.resolve_compartment(config, options.compartment)
    return Session(config=config, signer=signer, compartment=compartment, endpoint=options.endpoint)
