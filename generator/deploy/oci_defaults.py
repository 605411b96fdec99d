"""OCI connection defaults, apart from `resource_manager` so the CLI can show them in
`--help` without importing the oci SDK (which alone takes a third of a second)."""

DEFAULT_CONFIG_FILE = "~/.oci/config"
DEFAULT_PROFILE = "DEFAULT"
AUTH_METHODS = ("api_key", "instance_principal", "resource_principal")
