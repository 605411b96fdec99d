"""`flowstack oci-setup`: create the OCI API signing key and the config profile rm-apply reads.

>>> oci_setup_command.name
'oci-setup'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..deploy import oci_defaults
from .lazy import lazy_module as _lazy_module

# cryptography costs start-up time: only oci-setup needs it, `flowstack --help` should not pay.
if TYPE_CHECKING:
    from ..deploy import keysetup
else:
    keysetup = _lazy_module("generator.deploy.keysetup")


@click.command("oci-setup")
@click.option("--user", required=True, metavar="OCID", help="Your user's OCID (console: Profile -> User settings -> OCID).")
@click.option("--tenancy", required=True, metavar="OCID", help="The tenancy's OCID (console: Profile -> Tenancy -> OCID).")
@click.option("--region", required=True, help="Home region identifier, e.g. ap-chuncheon-1 (console: region menu).")
@click.option("--compartment", metavar="OCID", help="Default compartment for rm-apply/status (written as compartment_ocid); default: the tenancy (root compartment).")
@click.option("--profile", default=oci_defaults.DEFAULT_PROFILE, show_default=True, help="Profile name to add.")
@click.option("--config-file", default=oci_defaults.DEFAULT_CONFIG_FILE, show_default=True, help="OCI config file (created if missing).")
@click.option("--key-file", metavar="PEM", help="Private key to create (default: flowstack_api_key_<profile>.pem beside the config).")
def oci_setup_command(user: str, tenancy: str, region: str, compartment: str | None, profile: str, config_file: str,
                      key_file: str | None) -> None:
    """Create an API signing key pair (RSA 2048, private key 0600) and add its profile to the OCI config.

    Prints the key's fingerprint and the console steps to upload the public key.
    Overwrites nothing: an existing profile or key file is refused.

    \b
    Example:
      flowstack oci-setup --user ocid1.user.oc1..aaaa... --tenancy ocid1.tenancy.oc1..aaaa... --region ap-chuncheon-1
    """
    done = keysetup.setup_api_key(config_file, profile, user=user, tenancy=tenancy, region=region, key_file=key_file, compartment=compartment)
    click.echo(f"Wrote {done.key_file} (private key, mode 0600) and {done.public_key_file}")
    click.echo(f"Added profile [{done.profile}] to {done.config_file} (fingerprint {done.fingerprint})")
    for line in done.steps():
        click.echo(line)
