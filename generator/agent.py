"""The config agent's boot files: its script, systemd units and settings (issue 15).

``flowstack-agent`` (templates/boot/flowstack-agent.py, standard-library Python) reads the
config bundle from the instance metadata, checks it and applies it in place (see
generator/bundle.py for the bundle). Its paths and rules come from one JSON settings file
serialized here from `contract`, so the server script holds no second copy of them.

Example:
    >>> agent_settings()["metadata_url"]
    'http://169.254.169.254/opc/v2/instance/metadata/flowstack_bundle'
"""

from __future__ import annotations

import json
from typing import Any

from .bootnames import HOSTNAMES_SETTINGS
from .config_schema import GIT_REF_REGEX, GIT_URL_REGEX
from .contract import (
    AGENT_LOG,
    AGENT_SCRIPT,
    AGENT_SERVICE,
    AGENT_SETTINGS,
    AGENT_STATE_DIR,
    AGENT_TIMER,
    APP_DIR,
    APPLY_AT_REGEX,
    BUNDLE_FORMAT,
    BUNDLE_METADATA_KEY,
    BUNDLE_ROOTS,
    BUNDLE_SERVICES,
    COMPOSE_FILE,
    DOCKER_CLIENT_CONFIG,
    FIREWALL_SCRIPT,
    GIT_CREDENTIALS_FILE,
    READY_MARKER,
    REGISTRY_AUTH_FILE,
    SOCKET_SOURCE_FILE,
)
from .pyship import server_python
from .templating import render_template, templates_dir

# IMDSv2 (the stack disables the legacy v1 endpoints); one metadata key, read as plain text.
METADATA_URL = f"http://169.254.169.254/opc/v2/instance/metadata/{BUNDLE_METADATA_KEY}"


def agent_settings() -> dict[str, Any]:
    """What the agent reads from `AGENT_SETTINGS`.

    Example:
        >>> agent_settings()["services"][0]
        'livekit'
    """
    return {
        "metadata_url": METADATA_URL,
        "format": BUNDLE_FORMAT,
        "roots": list(BUNDLE_ROOTS),
        "services": list(BUNDLE_SERVICES),
        "apply_at_regex": APPLY_AT_REGEX,
        "state_dir": AGENT_STATE_DIR,
        "log": AGENT_LOG,
        "app_dir": APP_DIR,
        "compose_file": COMPOSE_FILE,
        "firewall_script": FIREWALL_SCRIPT,
        "source_file": SOCKET_SOURCE_FILE,
        "git_credentials_file": GIT_CREDENTIALS_FILE,
        "registry_auth_file": REGISTRY_AUTH_FILE,
        "docker_client_config": DOCKER_CLIENT_CONFIG,
        "git_url_regex": GIT_URL_REGEX,
        "git_ref_regex": GIT_REF_REGEX,
        "hostnames_settings": HOSTNAMES_SETTINGS,
        "ready_marker": READY_MARKER,
    }


def agent_files() -> list[tuple[str, str, str]]:
    """(server path, content, permissions) of the agent: script, settings, oneshot unit, timer.

    Example:
        >>> [p for p, _, _ in agent_files()][0]
        '/usr/local/sbin/flowstack-agent'
    """
    script = server_python((templates_dir() / "boot" / "flowstack-agent.py").read_text(encoding="utf-8"), "templates/boot/flowstack-agent.py")
    return [
        (AGENT_SCRIPT, script, "0755"),
        (AGENT_SETTINGS, json.dumps(agent_settings(), indent=2, sort_keys=True) + "\n", "0644"),
        (f"/etc/systemd/system/{AGENT_SERVICE}", render_template("flowstack-agent.service.j2", script=AGENT_SCRIPT, ready=READY_MARKER), "0644"),
        (f"/etc/systemd/system/{AGENT_TIMER}", render_template("flowstack-agent.timer.j2", service=AGENT_SERVICE), "0644"),
    ]
