"""The config bundle (issue 15): the server files that can change, applied in place.

Every server file that comes from the config (compose, livekit.yaml, the Caddy config, the
secret env file, origin certificates, the sample app, the git source, the firewall script)
is written into the stack zip as a Terraform template under ``bundle/``, listed in
``bundle/manifest.json``. ``bundle.tf`` renders each template once, hashes it, and packs all
of them as ``base64gzip(jsonencode({format, apply_at, digest, files}))`` into the instance
metadata key `contract.BUNDLE_METADATA_KEY`, which the provider updates without replacing the
instance. The server's agent (generator/emit/agent.py) checks and applies it.

Integrity is per file, because Terraform's JSON bytes cannot be reproduced here: each entry
carries ``sha256(content)`` and the bundle ``digest`` = sha256 over
``"{path}\\n{mode}\\n{service}\\n{sha256}\\n"`` of each file, in order (`bundle_digest`).

Example:
    >>> source_name("/opt/flowstack/livekit.yaml"), source_name("/usr/local/sbin/flowstack-firewall")
    ('bundle/livekit.yaml', 'bundle/usr/local/sbin/flowstack-firewall')
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from generator.config.schema import StackConfig
from generator.core.contract import APP_DIR, BUNDLE_DIR, BUNDLE_FORMAT, BUNDLE_MANIFEST, PLACEHOLDER_RE
from generator.core.hcl import hcl_string
from generator.core.templating import render_template
from generator.derive.derived import Derived, derive
from generator.emit.cloudinit import WriteFile, bundle_files, to_template
from generator.emit.templatefile import apply_template


@dataclass(frozen=True)
class BundleFile:
    """One file of the bundle: where it goes on the server, its zip template and what it means."""

    path: str
    source: str
    mode: str
    encoding: str  # "text" | "b64"
    service: str
    template: str  # Terraform template text (placeholders as ${name})

    def manifest_entry(self) -> dict[str, str]:
        return {"path": self.path, "source": self.source, "mode": self.mode, "encoding": self.encoding, "service": self.service}

    @property
    def placeholders(self) -> list[str]:
        """The template variables this file uses, in first-use order."""
        return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER_RE.finditer(self.raw)))

    raw: str = ""  # the file's text with flowstack's placeholder marks (before to_template)


def source_name(path: str) -> str:
    """The zip name of a server file's template: relative to the app directory, else to /."""
    rel = path[len(APP_DIR) + 1:] if path.startswith(APP_DIR + "/") else path.lstrip("/")
    return f"{BUNDLE_DIR}/{rel}"


def _bundle_file(f: WriteFile) -> BundleFile:
    assert f.service is not None and not f.gz
    return BundleFile(path=f.path, source=source_name(f.path), mode=f.permissions, encoding="b64" if f.b64 else "text",
                      service=f.service, template=to_template(f.content), raw=f.content)


def server_bundle(x: StackConfig | Derived, files: list[WriteFile] | None = None) -> list[BundleFile]:
    """The bundle's files, in the order the server applies them.

    >>> from generator.config.load import load_config
    >>> [(f.path, f.service) for f in server_bundle(load_config("stacks/flowspace.yaml"))][:2]
    [('/opt/flowstack/docker-compose.yml', 'compose'), ('/opt/flowstack/livekit.yaml', 'livekit')]
    """
    return [_bundle_file(f) for f in bundle_files(x, files)]


def manifest(files: list[BundleFile]) -> dict[str, Any]:
    """``bundle/manifest.json``: format and files (path, source, mode, encoding, service).

    >>> from generator.config.load import load_config
    >>> manifest(server_bundle(load_config("stacks/flowspace.yaml")))["files"][0]["source"]
    'bundle/docker-compose.yml'
    """
    return {"format": BUNDLE_FORMAT, "files": [f.manifest_entry() for f in files]}


def render_bundle(x: StackConfig | Derived, files: list[WriteFile] | None = None) -> dict[str, str]:
    """``{zip name: text}``: bundle.tf, bundle/manifest.json and each file's template.

    >>> from generator.config.load import load_config
    >>> sorted(render_bundle(load_config("stacks/flowspace.yaml")))[:3]
    ['bundle.tf', 'bundle/Caddyfile', 'bundle/docker-compose.yml']

    ``files``: the server file set, emitted once in a build (`emit.render.emit_stack`).
    """
    d = x if isinstance(x, Derived) else derive(x)
    config, exprs = d.config, d.template_expressions
    bundle = server_bundle(d, files)
    entries = [{"file": f, "key": hcl_string(f.path), "vars": {name: exprs[name] for name in f.placeholders}} for f in bundle]
    _align(entries)
    out = {"bundle.tf": render_template("bundle.tf.j2", c=config, entries=entries, format=BUNDLE_FORMAT),
           BUNDLE_MANIFEST: json.dumps(manifest(bundle), indent=2, sort_keys=True) + "\n"}
    out.update({f.source: f.template for f in bundle})
    return out


def _align(entries: list[dict[str, Any]]) -> None:
    """``terraform fmt`` aligns the ``=`` of consecutive one-line map entries (a multi-line
    entry, one with template variables, stands alone): each entry gets its key's padded width."""
    run: list[dict[str, Any]] = []
    for e in [*entries, None]:
        if e is not None and not e["vars"]:
            run.append(e)
            continue
        for r in run:
            r["width"] = max(len(x["key"]) for x in run)
        run = []
        if e is not None:
            e["width"] = len(e["key"])


# ---------------------------------------------------------------------------
# What Terraform computes, in Python: for tests, `preview` and the size check


def bundle_digest(files: list[dict[str, str]]) -> str:
    """The bundle's digest, as bundle.tf computes it (the agent recomputes it too).

    Example:
        >>> bundle_digest([])
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    text = "".join(f"{f['path']}\n{f['mode']}\n{f['service']}\n{f['sha256']}\n" for f in files)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bundle_value(config: StackConfig, values: dict[str, str], apply_at: str = "") -> str:
    """The metadata value Terraform would write, with ``values`` for the template variables.

    Terraform's jsonencode bytes differ (key order, escapes): the agent never compares them.

    >>> from generator.config.load import load_config
    >>> config = load_config("stacks/flowspace.yaml")
    >>> values = dict.fromkeys({p for f in server_bundle(config) for p in f.placeholders}, "x")
    >>> sorted(json.loads(gzip.decompress(base64.b64decode(bundle_value(config, values, "03:00")))))
    ['apply_at', 'digest', 'files', 'format']
    """
    files = []
    for f in server_bundle(config):
        content = apply_template(f.template, values)
        files.append({"path": f.path, "mode": f.mode, "encoding": f.encoding, "service": f.service,
                      "sha256": hashlib.sha256(content.encode("utf-8")).hexdigest(), "content": content})
    doc = {"format": BUNDLE_FORMAT, "apply_at": apply_at, "digest": bundle_digest(files), "files": files}
    packed = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(gzip.compress(packed, mtime=0)).decode("ascii")
