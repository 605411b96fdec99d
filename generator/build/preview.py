"""`flowstack preview`: exactly what the server will receive, readable before deploying.

Applies Terraform's templatefile() substitution to cloud-init.yaml and to the config bundle's
templates with sample (or given) values, then unpacks every file cloud-init and the agent
would write, so real validators (cloud-init schema, caddy adapt, compose checks) can run on them.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json

import yaml

from generator.config.schema import StackConfig
from generator.core.errors import FlowstackError
from generator.derive import autodomain
from generator.derive.bootnames import HOSTNAMES_ENV, HOSTNAMES_SETTINGS, env_name
from generator.derive.derived import derive
from generator.emit.bundle import server_bundle
from generator.emit.cloudinit import cloud_init_source, render_cloud_init, server_files
from generator.emit.templatefile import apply_template, sample_values


def preview_files(config: StackConfig, values: dict[str, str] | None = None, *, sample: bool = True) -> dict[str, bytes]:
    """``{"cloud-init.yaml": ..., "files/<absolute path>": ...}`` as the instance gets them."""
    d = derive(config)
    server = server_files(d)  # the server file set once: cloud-init's and the bundle's files come from it
    wanted = d.template_variables
    given = dict(values or {})
    unknown = sorted(set(given) - set(wanted))
    if unknown:
        raise FlowstackError(f"--var {unknown[0]}: not a deploy-time value of this stack; expected one of {', '.join(wanted)}")
    for name, value in given.items():
        if name.endswith("_b64"):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise FlowstackError(f"--var {name}: not base64 text (the value is not shown: it may be a secret); "
                                     "expected the output of `base64 -w0 FILE`") from None
    merged = {**(sample_values(config) if sample else {}), **given}
    missing = [name for name in wanted if name not in merged]
    if missing:
        raise FlowstackError(f"no value for {', '.join(missing)}: pass --sample or --var NAME=VALUE for each")
    text = apply_template(render_cloud_init(d, cloud_init_source(d, server)), merged)
    out = {"cloud-init.yaml": text.encode("utf-8")}
    for entry in yaml.safe_load(text).get("write_files", []):
        content = entry.get("content", "")
        data = base64.b64decode(content) if entry.get("encoding") in ("b64", "gz+b64") else content.encode("utf-8")
        out["files" + entry["path"]] = gzip.decompress(data) if entry.get("encoding") == "gz+b64" else data
    for f in server_bundle(d, server):  # what the agent writes from the bundle
        content = apply_template(f.template, merged)
        out["files" + f.path] = base64.b64decode(content) if f.encoding == "b64" else content.encode("utf-8")
    if config.domains.auto and sample:
        out.update(simulate_boot_names(out))
    return out


# A documentation address (RFC 5737) stands in for the public IP the server finds at boot.
SAMPLE_PUBLIC_IP = "203.0.113.7"


def simulate_boot_names(files: dict[str, bytes], address: str = SAMPLE_PUBLIC_IP) -> dict[str, bytes]:
    """What flowstack-hostnames writes at boot, for a server whose public IP is ``address``:
    the env file Caddy reads, and the files whose marks it fills in."""
    settings = json.loads(files["files" + HOSTNAMES_SETTINGS])
    hosts = {name: autodomain.sslip_host(prefix, address) for name, prefix in settings["prefixes"].items()}
    out = {"files" + HOSTNAMES_ENV: ("".join(f"{k}={v}\n" for k, v in [("PUBLIC_IP", address), *sorted(hosts.items())])).encode()}
    for path in settings["fill_files"]:
        text = files["files" + path].decode("utf-8")
        for name, host in hosts.items():
            text = text.replace(settings["marks"][name], host)
        out["files" + path] = text.encode("utf-8")
    return out


def derived_hosts(files: dict[str, bytes]) -> dict[str, str]:
    """The host names in a preview's simulated env file (``{"socket_host": ...}``), or {}."""
    env = files.get("files" + HOSTNAMES_ENV, b"").decode("utf-8")
    pairs = dict(line.split("=", 1) for line in env.splitlines() if "=" in line)
    return {key: pairs[env_name(key)] for key in autodomain.DEFAULT_PREFIXES if env_name(key) in pairs}


def preview_modes(files: dict[str, bytes], config: StackConfig) -> dict[str, int]:
    """The permissions cloud-init and the agent give each written file, so a preview of secrets stays private."""
    doc = yaml.safe_load(files["cloud-init.yaml"])
    modes = {"files" + e["path"]: int(str(e.get("permissions", "0644")), 8) for e in doc.get("write_files", [])}
    modes.update({"files" + f.path: int(f.mode, 8) for f in server_bundle(config)})
    modes["cloud-init.yaml"] = 0o600  # it holds every deploy-time value, secrets included
    return modes
