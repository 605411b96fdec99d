"""Names every layer shares: the one home of each (issue 9).

Server paths the bring-up writes and the checks read, the variables Resource Manager fills
in, the one rule for what counts as a secret, and the placeholder marks that become
Terraform template variables.

>>> is_secret("livekit_api_secret"), is_secret("socket_host"), is_secret("alarm_slack_url", sensitive=True)
(True, False, True)
"""

from __future__ import annotations

import re

# -- Server paths (written by cloud-init, read back by the checks) -------------------------
APP_DIR = "/opt/flowstack"
LIVEKIT_CONFIG = f"{APP_DIR}/livekit.yaml"
COMPOSE_FILE = f"{APP_DIR}/docker-compose.yml"
READY_MARKER = "/var/lib/flowstack/ready"
BOOT_LOG = "/var/log/flowstack-bootstrap.log"
FIREWALL_SCRIPT = "/usr/local/sbin/flowstack-firewall"

# -- Variables Resource Manager fills in itself: never asked for, never required from --var --
AUTO_FILLED = ("tenancy_ocid", "compartment_ocid", "region")

# -- Who may reach SSH ----------------------------------------------------------------------
# The widest SSH source a stack accepts: a /8 (16M addresses) is already a whole provider's
# range; anything wider (/0 to /7, however spelt: /00, /000) is "the internet" in practice.
# IPv4 only: the VCN has no IPv6 prefix, so an IPv6 source could never match.
SSH_MIN_PREFIX = 8
# The spelling Terraform's rule and the local pre-check both accept: four decimal octets and a
# prefix length from SSH_MIN_PREFIX to 32 without leading zeros (so /00, /000, /08 and ::/0 fail
# the regex itself; nothing relies on endswith). RE2 and Python read it alike.
SSH_CIDR_REGEX = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/([89]|[12][0-9]|3[0-2])$"


def secret_env_variable(env_name: str) -> str:
    """THE name of the Terraform variable holding secret env ``env_name`` (case folds: a collision rule).

    >>> secret_env_variable("API_KEY") == secret_env_variable("api_key")
    True
    """
    return f"socket_secret_{env_name.lower()}"


# -- THE secret rule ---------------------------------------------------------------------
# A name is a secret when it says so. ``api_key`` alone is not: LiveKit's API key is an
# identifier clients see; its secret is ``livekit_api_secret``. The zip's secret check, the
# terminal's masking and the console form's ``sensitive`` flag all ask `is_secret`.
SECRET_NAME = re.compile(r"secret|passw|token|private_key|key_content|credential", re.IGNORECASE)


def is_secret(name: str, *, sensitive: bool = False) -> bool:
    """True when a value named ``name`` must never be shown or shipped.

    ``sensitive`` is the variable's own ``sensitive = true`` (a webhook URL is a secret
    though its name does not say so).

    >>> is_secret("JWT_SECRET"), is_secret("livekit_api_key")
    (True, False)
    """
    return sensitive or bool(SECRET_NAME.search(name))


# -- Placeholders: flowstack's marks that become Terraform template variables ----------------
PLACEHOLDER_MARK = "@@FLOWSTACK:"
PLACEHOLDER_RE = re.compile(re.escape(PLACEHOLDER_MARK) + r"([a-z0-9_]+)@@")


def boot_mark(key: str) -> str:
    """Text the server's boot step (flowstack-hostnames) replaces with the host name it
    derived for ``key``, in files that cannot read the environment (auto domains).

    >>> boot_mark("turn_host")
    '__FLOWSTACK_TURN_HOST__'
    """
    return f"__FLOWSTACK_{key.upper()}__"


def placeholder(name: str) -> str:
    """The mark for template variable ``name``; `PLACEHOLDER_RE` finds it again.

    >>> placeholder("socket_host")
    '@@FLOWSTACK:socket_host@@'
    """
    return f"{PLACEHOLDER_MARK}{name}@@"

# Bring-up: the systemd unit that runs the bootstrap script until READY_MARKER exists, and
# the DNS wait it calls before Caddy starts. The STUN servers are LiveKit's own defaults
# (livekit-server pkg/config DefaultStunServers), which rtc.use_external_ip already relies on.
BOOTSTRAP_SCRIPT = "/usr/local/sbin/flowstack-bootstrap"
BOOTSTRAP_UNIT = "flowstack-bootstrap.service"
WAIT_DNS_SCRIPT = "/usr/local/sbin/flowstack-wait-dns"
DNS_WAIT_SECONDS = 1800
STUN_SERVERS = ("stun.l.google.com:19302", "stun1.l.google.com:19302")
DOCKER_DAEMON_JSON = "/etc/docker/daemon.json"

# -- Config changes in place (issue 15): the bundle in instance metadata and its agent ------
# The bundle rides in its own metadata key: the provider updates every key but user_data and
# ssh_authorized_keys in place (research.md A), so a config change never replaces the server.
BUNDLE_METADATA_KEY = "flowstack_bundle"
BUNDLE_FORMAT = 1
BUNDLE_DIR = "bundle"  # the stack zip's folder of server-file templates
BUNDLE_MANIFEST = f"{BUNDLE_DIR}/manifest.json"
# What a changed file means on the server (the agent acts on it; rm-apply names it).
BUNDLE_SERVICES = ("livekit", "caddy", "socket", "socket-build", "compose", "firewall", "none")
# The compose service a change of each `service` recreates: the agent (agent.json) and the
# server diff (generator/deploy/serverdiff.py) both read this one map.
SERVICE_CONTAINERS = {"livekit": "livekit", "caddy": "caddy", "socket": "socket", "socket-build": "socket"}
# The agent writes only below these roots (it refuses a bundle that names any other path).
BUNDLE_ROOTS = (f"{APP_DIR}/", "/usr/local/sbin/flowstack-")
APPLY_AT_REGEX = r"^$|^([01][0-9]|2[0-3]):[0-5][0-9]$"
# The quiet hour: `rm-apply --at HH:MM` sets this stack variable (server time zone).
APPLY_AT_VARIABLE = "server_apply_at"
AGENT_SCRIPT = "/usr/local/sbin/flowstack-agent"
AGENT_SERVICE = "flowstack-agent.service"
AGENT_TIMER = "flowstack-agent.timer"
PRUNE_SERVICE = "flowstack-prune.service"
PRUNE_TIMER = "flowstack-prune.timer"
AGENT_STATE_DIR = "/var/lib/flowstack/agent"
AGENT_LOG = "/var/log/flowstack-agent.log"
AGENT_SETTINGS = "/etc/flowstack/agent.json"  # the agent reads its paths and rules from here
# The app's git source as a bundle file (JSON: url, ref), which the agent clones from.
SOCKET_SOURCE_FILE = f"{APP_DIR}/socket-source.json"
# A private app repository's token, in git's credential format, mode 0600 (the agent's credential helper reads it).
GIT_CREDENTIALS_FILE = f"{APP_DIR}/git-credentials"
# The deploy-key route (core/gitssh.py): the read-only deploy key (0600; empty: none given) and the
# pinned known_hosts, the only one ssh reads. The agent finds both beside its app_dir by these names.
GIT_SSH_KEY_FILE = f"{APP_DIR}/git-ssh-key"
GIT_KNOWN_HOSTS_FILE = f"{APP_DIR}/git-known-hosts"
# The ssh client config the agent's git uses for an ssh URL (ssh -F): key, pins, no prompt.
GIT_SSH_CONFIG_FILE = f"{APP_DIR}/git-ssh-config"
# A private registry's login for socket.image (Docker's client config format, 0600); the agent merges it into root's docker config.
REGISTRY_AUTH_FILE = f"{APP_DIR}/registry-auth.json"
DOCKER_CLIENT_CONFIG = "/root/.docker/config.json"
