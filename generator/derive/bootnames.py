"""The boot step that names a server without a domain (``domains`` left out, or mode auto).

Terraform cannot template the server's public IP into its own user_data (the IP exists
only after the instance does), so the server finds it at boot: ``flowstack-hostnames``
(templates/boot/flowstack-hostnames.py, standard-library Python) asks two STUN servers,
derives the sslip.io names with generator/derive/autodomain.py (shipped to the server as is: one
home for the codec and the checks), checks them through DNS and writes them to
``HOSTNAMES_ENV``. Caddy reads that file through compose (``{$SOCKET_HOST}`` in the
Caddyfile); files that cannot read the environment carry ``contract.boot_mark`` text, which the
script replaces. The bootstrap calls it with ``BOOTSTRAP_LINE``, one line, so the bootstrap
itself (being reworked elsewhere into a retrying unit) stays as it is.

Terraform's outputs derive the same names from the instance's IP with replace(), so the
outputs and `flowstack env` show them without any cycle.

Example:
    >>> env_name("socket_host")
    'SOCKET_HOST'
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import APP_DIR, boot_mark
from generator.core.templating import templates_dir
from generator.core.yamlio import load_yaml
from generator.derive import autodomain
from generator.derive.hostnames import caddy_env_placeholder, env_name  # noqa: F401 - their home before issue 24
from generator.emit.pyship import server_python

HOSTNAMES_SCRIPT = "/usr/local/sbin/flowstack-hostnames"
HOSTNAMES_SETTINGS = "/etc/flowstack/hostnames.json"
HOSTNAMES_LIB = "/usr/local/lib/flowstack"
HOSTNAMES_ENV = f"{APP_DIR}/hostnames.env"
# One line in the bootstrap: find the names, then make them the shell's too (for its last message).
# Two commands, not "a && b": under `set -e` a failure left of && would not stop the bootstrap.
# One group, so the ShellCheck directive above it (the env file exists only on the server) covers both.
BOOTSTRAP_LINE = f"{{ {HOSTNAMES_SCRIPT} {HOSTNAMES_SETTINGS}; . {HOSTNAMES_ENV}; }}"
# How many times each STUN server and each DNS lookup is tried, and the pause between tries.
ATTEMPTS, TIMEOUT_SECONDS, RETRY_SECONDS = 10, 3, 6


@lru_cache(maxsize=1)
def domain_facts() -> dict[str, Any]:
    """generator/data/domains.yaml: sslip.io, the PSL, Let's Encrypt's limits, STUN servers."""
    return load_yaml(resources.files("generator").joinpath("data/domains.yaml").read_text("utf-8"))


def settings(keys: tuple[str, ...], fill_files: tuple[str, ...]) -> dict[str, Any]:
    """What the boot step reads (serialized as JSON onto the server)."""
    return {
        "lib_dir": HOSTNAMES_LIB,
        "stun_servers": [{"host": s["host"], "port": int(s["port"])} for s in domain_facts()["stun_servers"]["servers"]],
        "prefixes": {env_name(k): autodomain.DEFAULT_PREFIXES[k] for k in keys},
        "marks": {env_name(k): boot_mark(k) for k in keys},
        "fill_files": list(fill_files),
        "env_file": HOSTNAMES_ENV,
        "check_dns": True,
        "attempts": ATTEMPTS,
        "timeout_seconds": TIMEOUT_SECONDS,
        "retry_seconds": RETRY_SECONDS,
    }


def boot_files(keys: tuple[str, ...], fill_files: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(server path, content, permissions) of the boot step: script, its library, settings.

    Example:
        >>> [p for p, _, _ in boot_files(("socket_host",), ())][0]
        '/usr/local/sbin/flowstack-hostnames'
    """
    # Shipped without docstrings and comments: user_data and the config bundle share OCI's metadata limit.
    script = server_python((templates_dir() / "boot" / "flowstack-hostnames.py").read_text(encoding="utf-8"), "templates/boot/flowstack-hostnames.py")
    library = server_python(Path(autodomain.__file__).read_text(encoding="utf-8"), "generator/autodomain.py")  # relayout: keep (shipped bytes; goldens)
    return [
        (HOSTNAMES_SCRIPT, script, "0755"),
        (f"{HOSTNAMES_LIB}/autodomain.py", library, "0644"),
        # One line, as agent.json: ~70 bytes of the metadata budget (tests/checks/test_bundle_fit.py).
        (HOSTNAMES_SETTINGS, json.dumps(settings(keys, fill_files), separators=(",", ":")) + "\n", "0644"),
    ]


def rate_limit_notes() -> list[str]:
    """Let's Encrypt's position on sslip.io names, for the output when auto domains are used.

    Example:
        >>> "Public Suffix List" in rate_limit_notes()[0]
        True
    """
    facts = domain_facts()
    le, psl = facts["lets_encrypt"], facts["public_suffix_list"]
    limit = le["limit"]
    listed = "is" if psl["sslip_io_listed"] else "is not"
    last = le["sslip_io_history"][-1]
    current = le["sslip_io_current_limit"]
    return [
        f"sslip.io {listed} on the Public Suffix List (checked {psl['checked']}, {psl['source']['url']}): every sslip.io user shares "
        f"one Let's Encrypt bucket, \"{limit['name']}\" ({limit['default']} per {limit['window_days']} days by default, raised for sslip.io; "
        f"its current size: {current}; source {limit['source']['url']}, read {le['read']})",
        f"last recorded: {last['date']} {last['event']} ({last['source']})",
        "renewals of the same names do not count; a new public IP means new names: keep the IP (and Caddy's data) to renew instead",
    ]


def auto_domain_lines(config: StackConfig) -> list[str]:
    """What `zip` and `generate` print for a stack whose names come from sslip.io ([] otherwise).

    Example:
        >>> auto_domain_lines(StackConfig(name="demo", domains={"mode": "custom", "socket_host": "a.example.com", "livekit_host": "b.example.com"}))
        []
    """
    if not config.domains.auto:
        return []
    names = ", ".join(f"{prefix}.<public-ip-with-dashes>.{autodomain.SSLIP_SUFFIX}" for prefix in ("socket", "livekit"))
    fallback = ("Caddy then falls back to ZeroSSL (tls.email is set; ZeroSSL's limits are its own)" if config.tls.email
                else "set tls.email so Caddy can fall back to ZeroSSL (its ACME account needs an e-mail)")
    return [f"Host names: {names}, found by the server at boot (outputs show them after apply)"] + [
        f"Note: Let's Encrypt and sslip.io: {line}" for line in rate_limit_notes()
    ] + [
        "Note: Let's Encrypt and sslip.io: what this means: when that shared bucket is full, Let's Encrypt refuses new "
        f"sslip.io certificates (HTTP 429) for days and the server is not `ready` until HTTPS works; {fallback}; "
        "a domain of your own avoids the shared bucket (docs/server.md, TLS without a domain)"
    ]
