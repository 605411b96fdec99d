"""What a deploy changes on the running server: the ``bundle/`` files of two stack zips, compared.

Old is the zip and variables of the stack's newest succeeded APPLY job (Resource Manager's
``get_job_tf_config``: the stack's own zip may be a plan's, never applied); new is the zip about to be uploaded with the variables it will run with.
Each side's ``bundle/manifest.json`` (DAY2 format 1) lists the server files; each file is a
Terraform template, shown with its placeholders filled: a variable's value (the stack's, else
the zip's default), or ``********`` for every secret (`contract.is_secret`).  A secret that
changes is detected on a fingerprint (a hash of the value, or the ``keepers`` version of the
generated LiveKit secret) and named, never shown.  The services that restart come from each
changed file's ``service``; for the compose file, from the services whose definition changed.

>>> compose_services_changed("services: {a: {image: x:1}, b: {image: y}}", "services: {a: {image: x:2}, b: {image: y}}")
['a']
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import yaml

from generator.core.contract import BUNDLE_FORMAT, BUNDLE_MANIFEST, SERVICE_CONTAINERS, is_secret, secret_env_variable
from generator.core.hcl import unquote
from generator.core.yamlio import load_yaml
from generator.derive.model import TEMPLATE_EXPRESSIONS

from ..checks.stack import TEMPLATE_TOKEN, Stack
from .variables import MASK, mask_userinfo

GENERATED_SECRET = "random_password.livekit_api_secret.result"
SECRET_RESOURCE = ("random_password", "livekit_api_secret")
# What a change of a file with this `service` means on the server (DAY2.md): the agent's own map.
RESTARTS = SERVICE_CONTAINERS


@dataclass(frozen=True)
class ServerFile:
    """One entry of a bundle manifest."""

    path: str
    source: str
    mode: str
    encoding: str
    service: str


@dataclass
class FileChange:
    """How one server file changes: ``kind`` is added | removed | changed | secret | mode."""

    path: str
    kind: str
    service: str
    diff: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


@dataclass
class ServerDiff:
    """The server side of a deploy; `lines` is the text rm-apply prints."""

    first_deploy: bool = False
    unavailable: str | None = None  # why no comparison could be made
    no_agent: bool = False  # the running server predates the bundle: no agent applies anything
    files: list[FileChange] = field(default_factory=list)
    restarts: dict[str, list[str]] = field(default_factory=dict)  # service -> why
    rotated: bool = False
    notes: list[str] = field(default_factory=list)  # changes that restart nothing (the firewall)
    cleared_at: str = ""  # a quiet hour an earlier --at left on the stack, cleared by this run
    drain_seconds: int | None = None  # LiveKit's stop_grace_period in the new compose file

    def restart(self, service: str, why: str) -> None:
        reasons = self.restarts.setdefault(service, [])
        if why not in reasons:
            reasons.append(why)

    @property
    def livekit_restarts(self) -> bool:
        return "livekit" in self.restarts

    def as_json(self) -> dict[str, Any]:
        """Data for ``--json`` (masked like the text)."""
        return {"first_deploy": self.first_deploy, "unavailable": self.unavailable, "secret_rotated": self.rotated,
                "files": [{"path": f.path, "change": f.kind, "service": f.service, "diff": f.diff, "secrets": f.secrets}
                          for f in self.files],
                "restarts": sorted(self.restarts)}

    def lines(self) -> list[str]:
        """The diff as terminal lines (no secret in any of them)."""
        if self.first_deploy:
            return ["Server: first deploy (no stack, or no APPLY yet): the server is set up from this zip at its first boot."]
        if self.unavailable:
            return [f"Server: {self.unavailable}"] + (["LiveKit API secret: rotated (masked)"] if self.rotated else [])
        if not self.files and not self.rotated:
            return ["Server: no server file changes; nothing restarts."]
        out = ["Server changes (the running bundle -> this zip; secrets masked):"]
        for change in self.files:
            out += change.diff or [f"{change.path}: {_KIND_TEXT[change.kind]}"]
            if change.secrets and change.diff:
                out.append(f"{change.path}: secret value changed (masked): {', '.join(change.secrets)}")
        if self.rotated:
            out.append("LiveKit API secret: rotated (masked)")
        out += self.notes
        if self.restarts:
            out.append("Restarts: " + "; ".join(f"{name} ({', '.join(why)})" for name, why in sorted(self.restarts.items())))
        else:
            out.append("Restarts: none")
        if self.livekit_restarts:
            grace = f"up to {self.drain_seconds} s" if self.drain_seconds is not None else "up to its stop_grace_period"
            out.append(f"LiveKit drains first: SIGTERM, rooms in progress keep running {grace} (livekit.drain_seconds) "
                       "before it is stopped; new rooms wait until it is back")
        return out


_KIND_TEXT = {"added": "new file", "removed": "removed", "mode": "mode changed", "changed": "changed",
              "secret": "secret value changed (masked)"}


def read_zip(data: bytes) -> dict[str, bytes]:
    """``{name: bytes}`` of a stack zip (directories skipped); ValueError when it is not one.

    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("bundle/", ""); z.writestr("main.tf", "x")
    >>> read_zip(buf.getvalue())
    {'main.tf': b'x'}
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not a zip: {exc}") from None


class Side:
    """One stack zip plus the variables it runs with, as the server would see it."""

    def __init__(self, files: dict[str, bytes], variables: dict[str, str]) -> None:
        self.files = files
        # Only what the diff reads: the variables' defaults and the secret's keepers.
        stack = Stack({k: v for k, v in files.items() if k in ("main.tf", "variables.tf")})
        declared = stack.variables()
        self.sensitive = {name for name, body in declared.items() if body.get("sensitive") is True}
        # python-hcl2 keeps a string literal's quotes.
        defaults = {name: unquote(body["default"]) for name, body in declared.items() if isinstance(body.get("default"), str)}
        self.values = {**defaults, **variables}
        self.secret_version = _secret_version(stack)
        self.manifest = _manifest(files)

    def secret(self, name: str) -> bool:
        return is_secret(name, sensitive=name in self.sensitive)

    def resolve(self, placeholder: str) -> tuple[str, str, bool]:
        """(shown, fingerprint, secret) of one ``${placeholder}``."""
        expression = TEMPLATE_EXPRESSIONS.get(placeholder, f"var.{placeholder}")
        if expression == GENERATED_SECRET:
            return MASK, f"generated v{self.secret_version}", True
        if expression.startswith("random_password."):  # another generated secret (scale: Redis's password), never rotated
            return MASK, f"generated {expression}", True
        if expression.startswith("local."):
            # The secret env file: made from every secret env variable.
            prefix = secret_env_variable("")
            items = sorted((k, v) for k, v in self.values.items() if k.startswith(prefix))
            return MASK, _hash(json.dumps(items)), True
        name = expression.removeprefix("var.")
        secret = self.secret(name) or self.secret(placeholder)
        if name not in self.values:
            return "${" + placeholder + "}", "unknown " + placeholder, secret
        value = self.values[name]
        return (MASK if secret else mask_userinfo(value)), _hash(value), secret

    def render(self, entry: ServerFile) -> tuple[str, str, list[str]]:
        """(shown text, fingerprint text, secret placeholders used) of one bundle file."""
        raw = self.files.get(entry.source, b"").decode("utf-8", errors="replace")
        shown, prints, secrets = [], [], []
        last = 0
        for m in TEMPLATE_TOKEN.finditer(raw):
            literal = raw[last:m.start()]
            shown.append(literal)
            prints.append(literal)
            token = m.group(0)
            if token in ("$${", "%%{"):
                shown.append(token[1:])
                prints.append(token[1:])
            elif m.group(1) is not None:
                text, fingerprint, secret = self.resolve(m.group(1).strip())
                shown.append(text)
                prints.append("fp" + _hash(fingerprint)[:32])  # plain text: the compose file still parses
                if secret:
                    secrets.append(m.group(1).strip())
            else:
                shown.append(token)
                prints.append(token)
            last = m.end()
        shown.append(raw[last:])
        prints.append(raw[last:])
        text = "".join(shown)
        if entry.encoding == "b64":
            text = _decoded(text)
        return text, "".join(prints), secrets


def _decoded(text: str) -> str:
    """A b64 file's content for display: the text when it decodes to UTF-8, else a summary."""
    if MASK in text or "${" in text:
        return text
    try:
        data = base64.b64decode(text, validate=True)
        return data.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return f"(binary, sha256 {_hash(text)[:16]})\n"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _secret_version(stack: Stack) -> str:
    """The ``keepers.version`` of the generated LiveKit secret; "1" when it has no (or empty) keepers.

    Version 1 renders no keepers, and stacks from before day 2 had none: both are the same
    secret, so going from one to the other is no rotation.  "" when the zip has no such resource.

    >>> _secret_version(Stack({"main.tf": b'resource "random_password" "livekit_api_secret" {\\n  length = 48\\n}\\n'}))
    '1'
    """
    for _file, typ, name, body in stack.all_blocks("resource"):
        if (typ, name) == SECRET_RESOURCE:
            keepers = body.get("keepers")
            keepers = keepers[0] if isinstance(keepers, list) and keepers else keepers
            version = str(unquote(keepers.get("version", ""))) if isinstance(keepers, dict) else ""
            return version or "1"
    return ""


def _manifest(files: dict[str, bytes]) -> list[ServerFile] | None:
    """The bundle's file list, or None when the zip has no bundle."""
    raw = files.get(BUNDLE_MANIFEST)
    if raw is None:
        return None
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(data), "a number")
        raise ValueError(f"{BUNDLE_MANIFEST} is {kind}, not a JSON object")
    if data.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"bundle format {data.get('format')!r} (this flowstack reads {BUNDLE_FORMAT})")
    entries = data.get("files") or []
    if not isinstance(entries, list) or not all(isinstance(f, dict) for f in entries):
        raise ValueError(f"{BUNDLE_MANIFEST}: files is not a list of objects")
    return [ServerFile(f["path"], f["source"], f.get("mode", "0644"), f.get("encoding", "text"), f.get("service", "none"))
            for f in entries]


def compose_services_changed(old: str, new: str) -> list[str] | None:
    """The compose services whose definition differs (added and removed ones too); None if unparsable."""
    try:
        before = (load_yaml(old) or {}).get("services") or {}
        after = (load_yaml(new) or {}).get("services") or {}
    except (yaml.YAMLError, AttributeError):
        return None
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


def _unified(path: str, old: str, new: str) -> list[str]:
    return [line.rstrip("\n") for line in difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a{path}", f"b{path}", n=2)]


def _compare(path: str, old: tuple[ServerFile, Side] | None, new: tuple[ServerFile, Side] | None) -> FileChange | None:
    """One file's change, or None when the server copy stays the same."""
    before = old[1].render(old[0]) if old else ("", "", [])
    after = new[1].render(new[0]) if new else ("", "", [])
    if old is None or new is None:
        entry = new[0] if new else old[0]  # type: ignore[index]  # one of the two is there
        return FileChange(path, "removed" if new is None else "added", entry.service, _unified(path, before[0], after[0]))
    if before[1] == after[1] and old[0].mode == new[0].mode:
        return None
    diff = _unified(path, before[0], after[0])
    # Name only the secrets whose value really changed (the fingerprints differ).
    secrets = [s for s in sorted(set(before[2]) | set(after[2])) if old[1].resolve(s)[1] != new[1].resolve(s)[1]]
    kind = "changed" if diff else "secret" if before[1] != after[1] else "mode"
    return FileChange(path, kind, new[0].service, diff, secrets)


def diff_bundles(old_files: dict[str, bytes], old_vars: dict[str, str],
                 new_files: dict[str, bytes], new_vars: dict[str, str]) -> ServerDiff:
    """The server diff between two stack zips' contents (see the module doc).

    >>> from generator.config.load import load_config
    >>> from generator.emit.render import render_stack
    >>> files = render_stack(load_config("stacks/flowspace.yaml"))
    >>> diff_bundles(files, {}, files, {}).lines()
    ['Server: no server file changes; nothing restarts.']
    """
    try:
        old, new = Side(old_files, old_vars), Side(new_files, new_vars)
    except (ValueError, KeyError, TypeError) as exc:
        return ServerDiff(unavailable=f"cannot read the server bundle ({exc}); the diff is not shown")
    result = ServerDiff(rotated=old.secret_version != new.secret_version)
    if result.rotated:
        result.restart("livekit", "new API secret")
    if new.manifest is None:
        result.unavailable = "this zip has no server bundle (bundle/manifest.json): no server file diff"
        return result
    if old.manifest is None:
        result.no_agent = True
        result.unavailable = (
            "the stack's current zip has no server bundle (made by a flowstack from before day 2), so its server "
            "has no config agent: these changes reach the running server only when the instance is replaced")
        return result
    before = {f.path: (f, old) for f in old.manifest}
    after = {f.path: (f, new) for f in new.manifest}
    result.drain_seconds = _drain_seconds(new)
    for path in sorted(set(before) | set(after)):
        change = _compare(path, before.get(path), after.get(path))
        if change is not None:
            result.files.append(change)
            _restarts(result, change, before.get(path), after.get(path))
    return result


def _drain_seconds(side: Side) -> int | None:
    """LiveKit's stop_grace_period (seconds) in a side's compose file, or None."""
    for entry in side.manifest or []:
        if entry.service == "compose":
            m = re.search(r"stop_grace_period: ['\"]?(\d+)s", side.render(entry)[0])
            return int(m.group(1)) if m else None
    return None


def _restarts(result: ServerDiff, change: FileChange, old: tuple[ServerFile, Side] | None,
              new: tuple[ServerFile, Side] | None) -> None:
    name = change.path.rsplit("/", 1)[-1]
    if change.service == "compose":
        changed = compose_services_changed(old[1].render(old[0])[1] if old else "", new[1].render(new[0])[1] if new else "")
        for service in changed if changed is not None else ["every service"]:
            result.restart(service, f"{name} changed")
    elif change.service in RESTARTS:
        why = "rebuilt: " if change.service == "socket-build" else ""
        result.restart(RESTARTS[change.service], f"{why}{name} changed")
    elif change.service == "firewall":
        result.notes.append(f"Firewall: {name} changed: the rules are re-applied (no restart)")


__all__ = ["ServerDiff", "compose_services_changed", "diff_bundles", "read_zip"]
