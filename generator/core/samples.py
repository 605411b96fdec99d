"""THE sample values: what `preview --sample` fills into cloud-init and what `validate` /
`plan` give Terraform for variables without a default. Never real secrets.

Both views share the certificate and key, base64-encoded for both (the template writes them
with cloud-init's b64; a `file` form field reaches Terraform so). Values are strings, as RM passes them.

>>> sample_variable("socket_secret_api_key")
'sample-api_key'
"""

from __future__ import annotations

import base64

SAMPLE_PEM = "-----BEGIN CERTIFICATE-----\nU0FNUExFIE9OTFk=\n-----END CERTIFICATE-----\n"
SAMPLE_KEY = "-----BEGIN PRIVATE KEY-----\nU0FNUExFIE9OTFk=\n-----END PRIVATE KEY-----\n"
SAMPLE_LIVEKIT_SECRET = "SampleSecretForPreviewOnly0123456789abcdefXYZ"

# Terraform variables a stack may declare without a default (RM fills the first two itself).
SAMPLE_VARIABLES: dict[str, str] = {
    "tenancy_ocid": "ocid1.tenancy.oc1..aaaaaaaasampletenancy",
    "compartment_ocid": "ocid1.compartment.oc1..aaaaaaaasamplecompartment",
    "ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNhbXBsZSBrZXkgZm9yIHRlc3RzIG9ubHkgISEhISEh sample",
    "ssh_source_cidr": "198.51.100.7/32",
    # `type: file` in the form: Resource Manager passes an uploaded file base64-encoded.
    "tls_origin_certificate": base64.b64encode(SAMPLE_PEM.encode()).decode(),
    "tls_origin_private_key": base64.b64encode(SAMPLE_KEY.encode()).decode(),
    # Asked at deploy time when the config keeps the example repository (or gives none).
    "socket_git_url": "https://github.com/flow-coder/flow_metaverse.git",
    "alarm_slack_url": "https://hooks.slack.example/services/T0/B0/sample",
    "budget_alert_recipients": "ops@example.com",
    "alarm_emails": "ops@example.com",
}


def sample_variable(name: str) -> str | None:
    """A sample value for Terraform variable ``name``, or None when flowstack has none.

    >>> sample_variable("ssh_source_cidr")
    '198.51.100.7/32'
    """
    if name in SAMPLE_VARIABLES:
        return SAMPLE_VARIABLES[name]
    if name.startswith("socket_secret_"):
        return f"sample-{name.removeprefix('socket_secret_')}"
    return None
