"""Stack variables on the command line: ``--var`` parsing, masking and the stack's variable spec.

Masking uses the one secret rule (`contract.is_secret`), as the zip's secret check and the
console form do.

>>> mask_variables({"socket_host": "a.example.com", "livekit_api_secret": "x"})
{'livekit_api_secret': '********', 'socket_host': 'a.example.com'}
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.core.contract import AUTO_FILLED, is_secret
from generator.core.errors import InvalidVariable, MissingVariables, ResourceManagerError, UnknownVariable, one_line

MASK = "********"
# The user:password@ of a URL: a credential even in a variable not named like a secret.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
# Sample values for the "--var NAME=VALUE" hint when a variable has no value.
VARIABLE_EXAMPLES = {
    "ssh_public_key": '"$(cat ~/.ssh/id_ed25519.pub)"',
    "ssh_source_cidr": "203.0.113.7/32",
    "socket_git_url": "https://github.com/you/your-app.git",
    "alarm_slack_url": "https://hooks.slack.com/services/...",
    "alarm_emails": "ops@example.com",
    "budget_alert_recipients": "ops@example.com",
    # Base64, as Resource Manager passes an uploaded file (schema.yaml type: file).
    "tls_origin_certificate": '"$(base64 -w0 origin.pem)"',
    "tls_origin_private_key": '"$(base64 -w0 origin-key.pem)"',
    "socket_git_ssh_key": "@$HOME/.flowstack/deploy-keys/NAME/id_ed25519",  # flowstack deploy-key NAME
}

def parse_variables(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``; raise `ResourceManagerError` on a bad pair.

    The message never repeats a value: the argument may be a secret typed without its name.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ResourceManagerError(
                "--var: expected NAME=VALUE, got an argument without '=' (not repeated here: it may be a secret)"
            )
        # Nothing is stripped: a space or line break in the name is refused, never silently dropped.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            suggestion = re.sub(r"[^A-Za-z0-9_-]", "", name)
            hint = f" (did you mean {suggestion}?)" if suggestion and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", suggestion) else ""
            raise ResourceManagerError(f"--var: {one_line(repr(name))} is not a Terraform variable name{hint} (expected NAME=VALUE)")
        out[name] = value
    return out


def is_secret_name(name: str) -> bool:
    """True for variable names that must never be printed (``livekit_api_secret``...): `contract.is_secret`."""
    return is_secret(name)


def is_masked(name: str, sensitive: Iterable[str] = ()) -> bool:
    """True when a variable's value must not be shown: marked sensitive, or named like a secret."""
    return is_secret(name, sensitive=name in set(sensitive))


def mask_userinfo(text: str) -> str:
    """``text`` with the ``user:token@`` of every URL in it replaced by `MASK`.

    >>> mask_userinfo("clone https://bob:ghp_x@github.com/o/a.git")
    'clone https://********@github.com/o/a.git'
    """
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def mask_variables(variables: Mapping[str, str], sensitive: Iterable[str] = ()) -> dict[str, str]:
    """``variables`` sorted, with the value of every sensitive or secret-named one replaced by `MASK`."""
    sensitive = frozenset(sensitive)
    return {k: (MASK if is_masked(k, sensitive) else mask_userinfo(v)) for k, v in sorted(variables.items())}


@dataclass(frozen=True)
class VariableSpec:
    """The variables a stack declares, from the stack model (``build_model(config).variables``).

    ``names`` is every variable plus the auto-filled ones; ``required`` those with no
    default that are not filled in automatically; ``sensitive`` those never printed;
    ``rules`` each variable's ``validation`` rules as (local check, Terraform's message).
    """

    stack: str
    names: frozenset[str]
    required: tuple[str, ...]
    sensitive: frozenset[str]
    rules: Mapping[str, tuple[tuple[Callable[[str], bool], str], ...]] = field(default_factory=dict)
    files: frozenset[str] = frozenset()  # file-upload fields (schema.yaml type: file): --var NAME=@FILE reads one

    @classmethod
    def from_variables(cls, stack: str, variables: Iterable[Any], auto_filled: Iterable[str] = AUTO_FILLED) -> VariableSpec:
        """From model ``Variable``s (anything with ``name``, ``sensitive`` and ``has_default``)."""
        variables = list(variables)
        auto = frozenset(auto_filled)
        return cls(
            stack=stack,
            names=frozenset(v.name for v in variables) | auto,
            required=tuple(v.name for v in variables if not v.has_default and v.name not in auto),
            sensitive=frozenset(v.name for v in variables if is_secret(v.name, sensitive=v.sensitive)),
            rules={v.name: tuple((r.local, r.error_message) for r in getattr(v, "validations", ())) for v in variables},
            files=frozenset(v.name for v in variables if getattr(v, "schema_type", None) == "file"),
        )

    def read_files(self, variables: Mapping[str, str]) -> dict[str, str]:
        """``variables`` with each file field's ``@PATH`` replaced by the file's bytes in base64,
        as the console form's upload passes a file: the content is read here, never in argv.

        >>> VariableSpec("s", frozenset({"k"}), (), frozenset(), files=frozenset({"k"})).read_files({"k": ""})
        {'k': ''}
        """
        out = dict(variables)
        for name in self.files & set(variables):
            if variables[name].startswith("@"):
                path = Path(variables[name][1:]).expanduser()
                try:
                    out[name] = base64.b64encode(path.read_bytes()).decode("ascii")
                except OSError as exc:
                    raise InvalidVariable(name, f"@{path}", f"cannot read the file ({exc.strerror or exc})") from None
        return out

    def check_rules(self, variables: Mapping[str, str]) -> None:
        """Raise `InvalidVariable` for the first value its variable's ``validation`` rule refuses.

        The same rules Terraform evaluates (`model.Validation.local`), so a bad ``--var`` is
        refused before the zip is uploaded. A secret's value is never repeated.
        """
        for name, value in sorted(variables.items()):
            for ok, message in self.rules.get(name, ()):
                if not ok(value):
                    raise InvalidVariable(name, MASK if is_masked(name, self.sensitive) else mask_userinfo(value), message)

    def check_names(self, variables: Iterable[str]) -> None:
        """Raise `UnknownVariable` for names the stack does not declare (no request made)."""
        unknown = [name for name in variables if name not in self.names]
        if unknown:
            raise UnknownVariable(self.stack, unknown, self.names)

    def check_values(self, *sources: Mapping[str, str]) -> None:
        """Raise `MissingVariables` when a required variable has a value in none of ``sources``."""
        missing = [name for name in self.required if not any(name in source for source in sources)]
        if missing:
            raise MissingVariables(self.stack, missing, {name: variable_example(name) for name in missing})


def variable_example(name: str) -> str:
    """A sample value for ``--var NAME=...`` in hints; never a real secret."""
    if name in VARIABLE_EXAMPLES:
        return VARIABLE_EXAMPLES[name]
    if name.startswith("socket_secret_"):
        return f'"${name.removeprefix("socket_secret_").upper()}"'
    return "VALUE"
