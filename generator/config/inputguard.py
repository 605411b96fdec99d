"""Checks on a validated config that need data or patterns beyond the schema: OCI's own
limits (dated data with sources), credentials that would land in the zip, host names ACME
cannot serve, the one region list, and e-mail text that must survive the Caddyfile.

Each check returns `Finding`s; `config.parse_config` turns the first into one `ConfigError`
naming the field, the value, the limit and its source.

>>> from generator.config.schema import StackConfig
>>> limit("vcn_prefix").max
30
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from generator.config.schema import StackConfig
from generator.core.caddyquote import caddy_problem
from generator.core.errors import did_you_mean
from generator.core.gitssh import is_ssh_url, pinned_hosts, ssh_url_host
from generator.core.prices import price_book
from generator.core.yamlio import load_yaml


@dataclass(frozen=True)
class Limit:
    name: str
    verified: bool
    source: str
    min: float | None = None
    max: float | None = None

    def cite(self) -> str:
        return f"{'' if self.verified else 'unverified limit; '}source: {self.source}"


@dataclass(frozen=True)
class Finding:
    loc: tuple[Any, ...]
    value: Any
    problem: str
    expected: str | None = None


@lru_cache(maxsize=1)
def _limits() -> dict[str, Limit]:
    raw = load_yaml(resources.files("generator").joinpath("data/oci_limits.yaml").read_text("utf-8"))
    return {name: Limit(name=name, **entry) for name, entry in raw["limits"].items()}


def limit(name: str) -> Limit:
    """One OCI limit from data/oci_limits.yaml."""
    return _limits()[name]


def findings(config: StackConfig, *, rule_count: int) -> Iterator[Finding]:
    """Everything wrong with ``config`` that the schema alone cannot see, most important first
    (``rule_count``: the port policy's ingress rules, which `config.load` derives with the listeners)."""
    yield from _secrets(config)
    yield from _git_ssh(config)
    yield from _normal_form(config)
    yield from _hosts(config)
    yield from _region(config)
    yield from _email(config)
    yield from _oci_limits(config, rule_count)


# ---------------------------------------------------------------- secrets

# Shapes of credentials that would be readable by anyone holding the zip.
CREDENTIAL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    ("an OCI OCID of a credential", re.compile(r"ocid1\.(credential|customersecretkey|authtoken|apikey)\.", re.I)),
    ("a GitHub token", re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{20,}")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/services/", re.I)),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a private key or certificate (PEM)", re.compile(r"-----BEGIN [A-Z0-9 ]*-----")),
    ("an OpenSSH private key", re.compile(r"b3BlbnNzaC1rZXktdjEA")),  # base64 of "openssh-key-v1\0", the key file's body
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.")),
)
# Environment names that say "secret": their values belong in secret_env.
SECRET_NAME = re.compile(r"(^|_)(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|ACCESS_KEY|SECRET_KEY|CREDENTIALS?)$", re.I)


def credential_kind(text: str) -> str | None:
    """What kind of credential ``text`` holds, or None.

    >>> credential_kind("token ghp_" + "a" * 36)
    'a GitHub token'
    """
    for kind, pattern in CREDENTIAL_PATTERNS:
        if pattern.search(text):
            return kind
    return None


def _strings(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*loc, i))


# C0 controls but tab and line breaks, DEL, the C1 controls (NEL among them), U+2028 and U+2029.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


def _keys(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every mapping key of a dumped config (tag keys and env names are user text too)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*loc, k), str(k)
            yield from _keys(v, (*loc, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _keys(v, (*loc, i))


def _normal_form(config: StackConfig) -> Iterator[Finding]:
    # HCL (Terraform and HashiCorp's parser) normalizes every string literal to Unicode NFC, so
    # text in another form would reach the server changed: refuse it rather than alter it.
    dumped = config.model_dump(mode="json")
    for loc, text in (*_strings(dumped, ()), *_keys(dumped, ())):
        bad = next((ch for ch in text if _CONTROL.match(ch)), None)
        if bad is not None:
            # YAML reads NEL and the Unicode line/paragraph separators as line breaks, and control
            # characters have no place in names, tags or descriptions: they would not arrive as written.
            yield Finding(loc, text, f"holds the control character {bad!r}", "printable text (tabs and line breaks are fine)")
        elif unicodedata.normalize("NFC", text) != text:
            yield Finding(loc, text, "is not in Unicode normal form C: Terraform would silently change it",
                          f"the same text in NFC (did you mean {unicodedata.normalize('NFC', text)!r}?)")


def _secrets(config: StackConfig) -> Iterator[Finding]:
    git = config.socket.git
    if git is not None and git.url is not None:
        parts = urlsplit(git.url)
        if not is_ssh_url(git.url) and (parts.username or parts.password or "@" in parts.netloc):  # ssh: a login name, never a secret
            yield Finding(("socket", "git", "url"), "https://***@" + (parts.hostname or "") + parts.path,
                          "holds credentials (user:token@): they would be written into the zip in plain text",
                          "a URL without them: for a private repository give a read-only token at deploy time "
                          "(the sensitive variable socket_git_token, docs/deploy.md)")
    for name, value in config.socket.env.items():
        if value and SECRET_NAME.search(name):
            yield Finding(("socket", "env", name), None, f"{name} looks like a secret: socket.env values are written into the zip",
                          f"move {name} to socket.secret_env (asked at deploy time, never in the zip)")
    for loc, text in _strings(config.model_dump(mode="json"), ()):
        kind = credential_kind(text)
        if kind:
            yield Finding(loc, None, f"holds what looks like {kind} (not shown): it would be written into the zip",
                          "no credentials in the config: use socket.secret_env for the app's secrets")


def _git_ssh(config: StackConfig) -> Iterator[Finding]:
    """The deploy-key route: each known_hosts line holds a sound key, and the URL's host has a pinned key."""
    git = config.socket.git
    if git is None or not git.ssh:
        return
    for i, line in enumerate(git.known_hosts):
        problem = ssh_public_key_problem(line.split(" ", 1)[1])
        if problem:
            yield Finding(("socket", "git", "known_hosts", i), line[:60], f"its key {problem}", "the line ssh-keyscan -t ed25519 HOST prints")
    host = ssh_url_host(git.url or "")
    if host is not None and host not in pinned_hosts(git.known_hosts):
        yield Finding(("socket", "git", "url"), git.url, f"has no pinned host key for {host}: the server would refuse to connect",
                      f"add its line to socket.git.known_hosts (ssh-keyscan -t ed25519 {host.strip('[').split(']')[0]}, "
                      "checked against the fingerprint the host publishes); GitHub's and GitLab's are pinned already")


# ---------------------------------------------------------------- names

def _hosts(config: StackConfig) -> Iterator[Finding]:
    for field in ("socket_host", "livekit_host", "turn_host"):
        host = getattr(config.domains, field)
        if host is None:
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host.rsplit(".", 1)[-1].isdigit():
                yield Finding(("domains", field), host, "the last label is all digits: not a DNS name",
                              "a DNS name such as space-socket.example.com")
            continue
        yield Finding(("domains", field), host,
                      "is an IP address: Caddy's ACME certificates (Let's Encrypt) are issued for DNS names only",
                      f"a DNS name that points at it, e.g. {host.replace('.', '-')}.sslip.io")


def _region(config: StackConfig) -> Iterator[Finding]:
    regions = sorted(price_book().region_group)
    if config.region not in regions:
        yield Finding(("region",), config.region, "not a known OCI region",
                      f"one of the {len(regions)} regions in generator/data/prices.yaml (the list `flowstack cost` uses)"
                      f"{did_you_mean(config.region, regions)}")


_EMAIL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


def _email(config: StackConfig) -> Iterator[Finding]:
    email = config.tls.email
    if email is None:
        return
    if len(email) > 254 or ".." in email or not _EMAIL.fullmatch(email) or caddy_problem(email):
        yield Finding(("tls", "email"), email, "is not a plain e-mail address (it is written into the Caddyfile)",
                      "letters, digits and . _ % + - before the @, a DNS name after it, e.g. ops@example.com")


# ---------------------------------------------------------------- OCI limits

def _range(name: str, value: float, loc: tuple[Any, ...], what: str, shown: Any = None) -> Iterator[Finding]:
    lim = limit(name)
    if (lim.min is not None and value < lim.min) or (lim.max is not None and value > lim.max):
        bounds = f"{lim.min:g} to {lim.max:g}" if lim.min is not None and lim.max is not None else f"at most {lim.max:g}"
        yield Finding(loc, value if shown is None else shown, f"{what} is outside OCI's limit ({bounds}; {lim.cite()})", f"{what} {bounds}")


def _oci_limits(config: StackConfig, rules: int) -> Iterator[Finding]:
    net = config.network
    yield from _range("vcn_prefix", net.vcn_cidr.prefixlen, ("network", "vcn_cidr"), "the prefix length", str(net.vcn_cidr))
    yield from _range("subnet_prefix", net.subnet_cidr.prefixlen, ("network", "subnet_cidr"), "the prefix length", str(net.subnet_cidr))
    yield from _range("ingress_rules_per_security_list", rules, ("extra_ports",), "the number of ingress rules", f"{rules} rules")
    inst = config.instance
    if inst.shape == "VM.Standard.A1.Flex":
        per = inst.memory_gbs / inst.ocpus
        yield from _range("a1_memory_gb_per_ocpu", per, ("instance", "memory_gbs"), "memory per OCPU (GB)", inst.memory_gbs)
    yield from _range("freeform_tags_per_resource", len(config.tags) + 1, ("tags",), "the number of tags (with flowstack's own)", f"{len(config.tags)} tags")
    for key, value in config.tags.items():
        if not key.strip():
            yield Finding(("tags", key), key, "an empty tag key: OCI needs a name for every freeform tag", "a key such as team")
        yield from _range("freeform_tag_key_chars", len(key), ("tags", key), "the tag key length", key)
        yield from _range("freeform_tag_value_chars", len(value), ("tags", key), "the tag value length", f"{len(value)} characters")
    yield from _range("stack_description_chars", len(config.description), ("description",), "the description length", f"{len(config.description)} characters")


# ---------------------------------------------------------------- deploy-time values

# The one rule for ssh_public_key (the stack's variable validation, rm-* --var, rm-apply's
# key check): exactly one OpenSSH public key line, `TYPE BASE64 [comment]`, as in
# ~/.ssh/id_ed25519.pub. The regex is what Terraform checks (RE2: `$` is the end of the text);
# `ssh_public_key_problem` also opens the base64 blob, which Terraform cannot.
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                 "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
SSH_PUBLIC_KEY_REGEX = (r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
                        r"sk-ecdsa-sha2-nistp256@openssh\.com) AAAA[A-Za-z0-9+/]+={0,2}( [^\x00-\x1f\x7f]*)?$")
SSH_KEY_EXAMPLE = "the one line of ~/.ssh/id_ed25519.pub, such as ssh-ed25519 AAAAC3Nz... you@laptop"


def re2_search(pattern: str, value: str) -> bool:
    """``can(regex(pattern, value))``: Python's ``$`` also matches before a final newline, RE2's does not."""
    m = re.search(pattern, value)
    return m is not None and (not pattern.endswith("$") or m.end() == len(value))


def ssh_public_key_problem(value: str) -> str | None:
    """What is wrong with ``value`` as the stack's SSH public key, or None.

    >>> ssh_public_key_problem("hello")
    'is not an OpenSSH public key line (TYPE BASE64 [comment])'
    >>> ssh_public_key_problem("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZsb3dzdGFjayB0ZXN0czogbm90IGEgcmVhbCBrZXkh you@laptop") is None
    True
    """
    if "\n" in value.rstrip("\n") or "\r" in value:
        return "holds more than one line: give exactly one key"
    if value.endswith("\n"):
        return "ends with a line break: give the line without it (as $(cat key.pub) does)"
    if value.startswith(("ssh-dss ", "ssh-dsa ")):
        return "is a DSA key, which OpenSSH no longer accepts: make an ed25519 key (ssh-keygen -t ed25519)"
    if value.startswith(("-----BEGIN", "PuTTY-User-Key-File", "---- BEGIN SSH2")):
        return "is a private key or another key format: give the public key line (the .pub file)"
    if not re2_search(SSH_PUBLIC_KEY_REGEX, value):
        return "is not an OpenSSH public key line (TYPE BASE64 [comment])"
    kind, blob, comment = value.split(" ", 2)[0], value.split(" ", 2)[1], (value.split(" ", 2) + [""])[2]
    if any(f"{t} AAAA" in comment for t in SSH_KEY_TYPES):
        return "holds more than one key: give exactly one"
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return "has a key part that is not base64"
    fields = []
    while raw:
        if len(raw) < 4 or len(raw) < 4 + int.from_bytes(raw[:4], "big"):
            return "has a key part that is cut short or corrupted"
        n = int.from_bytes(raw[:4], "big")
        fields.append(raw[4:4 + n])
        raw = raw[4 + n:]
    if len(fields) < 2 or fields[0] != kind.encode():
        return f"says {kind} but its key part is not an {kind} key"
    return None


def ssh_public_key_ok(value: str) -> bool:
    """The local check of the ssh_public_key variable (`model`): no problem found."""
    return ssh_public_key_problem(value) is None


def pem_b64_ok(value: str) -> bool:
    """The local check of the TLS origin variables: base64 of text with a PEM ``-----BEGIN`` line
    (Terraform's ``base64decode`` fails on bad base64 and on bytes that are not UTF-8, as here)."""
    try:
        # Go's decoder (Terraform's) skips line breaks in the input; Python's strict one does not.
        text = base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return re.search(r"(?m)^-----BEGIN [A-Z0-9 ]+-----", text) is not None


def ssh_private_key_b64_ok(value: str) -> bool:
    """The local check of socket_git_ssh_key: empty, or base64 of a private key file (PEM-style
    header). A passphrase-protected key is refused too: the server cannot type its passphrase."""
    if value == "":
        return True
    try:
        text = base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    if re.match(r"^-----BEGIN (OPENSSH|EC|RSA) PRIVATE KEY-----", text) is None:
        return False
    body = "".join(text.strip().splitlines()[1:-1])
    try:
        return b"aes256" not in base64.b64decode(body) and "ENCRYPTED" not in text
    except (binascii.Error, ValueError):
        return False
