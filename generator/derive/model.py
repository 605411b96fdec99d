"""The stack model: what the config means for Terraform, derived once.

`variables.tf` and the Resource Manager `schema.yaml` are both rendered from
``StackModel.variables``, so the console form and the Terraform variables cannot drift
apart (the flaw of the oracle-quickstart template this replaces).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generator.config.inputguard import SSH_KEY_EXAMPLE, SSH_PUBLIC_KEY_REGEX, pem_b64_ok, ssh_private_key_b64_ok, ssh_public_key_ok
from generator.config.inputguard import re2_search as _re2_search
from generator.config.schema import GIT_REF_REGEX, GIT_URL_REGEX, HOSTNAME_REGEX, IMAGE_REGEX, StackConfig
from generator.core import limits
from generator.core.contract import APPLY_AT_REGEX, SSH_CIDR_REGEX, SSH_MIN_PREFIX, is_secret, secret_env_variable
from generator.core.gitssh import GIT_SSH_URL_REGEX
from generator.core.hcl import hcl_string
from generator.core.regions import bounds

# Variables Resource Manager fills in itself (facts.md section 5).

EMAIL_REGEX = r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$"
WEBHOOK_REGEX = r"""^https://[^\s?#"'\\]+$"""


@dataclass(frozen=True)
class Validation:
    """One ``validation`` block, and the same rule in Python for checking ``--var`` locally.

    ``local`` takes the value as Resource Manager passes it (a string) and answers what the
    HCL ``condition`` answers; `tests/deploy/test_var_rules.py` holds both to the same verdicts with
    real Terraform. A value Terraform cannot convert to the variable's type is left to
    Terraform (``local`` answers True).

    >>> _regex_rule("x", "^a+$", "only a").local("aa\\n")   # RE2's $ is the end of the text
    False
    """

    condition: str  # an HCL expression, written as is
    error_message: str
    local: Callable[[str], bool] = field(default=lambda _v: True, compare=False, repr=False)


def _regex_rule(var: str, pattern: str, message: str) -> Validation:
    return Validation(f"can(regex({hcl_string(pattern)}, var.{var}))", message, lambda v: _re2_search(pattern, v))


_OPS = {"<=": operator.le, ">=": operator.ge, ">": operator.gt}


def _number_rule(var: str, *bounds: tuple[str, float], message: str) -> Validation:
    """``var.x <= 4`` (and more bounds joined by &&) on a number Resource Manager passes as a string."""

    def local(v: str) -> bool:
        try:
            x = float(v)
        except ValueError:
            return True  # not a number: Terraform's type conversion reports it
        return math.isfinite(x) and all(_OPS[op](x, bound) for op, bound in bounds)

    condition = " && ".join(f"var.{var} {op} {f'{bound:g}'}" for op, bound in bounds)
    return Validation(condition, message, local)


def _ssh_source_ok(v: str) -> bool:
    try:
        ipaddress.IPv4Network(v, strict=False)
    except ValueError:
        return False
    return _re2_search(SSH_CIDR_REGEX, v)


def _emails_ok(v: str) -> bool:
    return all(_re2_search(EMAIL_REGEX, e) for e in (x.strip() for x in v.split(",")) if e)


@dataclass(frozen=True)
class Variable:
    """One Terraform variable and its Resource Manager form field."""

    name: str
    type: str  # "string" | "number" | "bool"
    description: str
    group: str
    title: str
    default: Any = None
    has_default: bool = True
    sensitive: bool = False
    schema_type: str | None = None  # defaults to the Terraform type's schema name
    visible: bool = True
    validations: tuple[Validation, ...] = ()
    schema_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def secret(self) -> bool:
        """The one secret rule (`contract.is_secret`): marked sensitive, or named like a secret.

        variables.tf's ``sensitive``, the form's masked input and rm-apply's masking all read it.
        """
        return is_secret(self.name, sensitive=self.sensitive)

    @property
    def form_type(self) -> str:
        if self.schema_type:
            return self.schema_type
        if self.secret:
            return "password"
        return {"string": "string", "number": "number", "bool": "boolean"}[self.type]


GROUPS = (("placement", "Placement"), ("access", "Access"), ("service", "Services"), ("sizing", "Instance size"), ("secrets", "Secrets"),
          ("alerts", "Cost alerts"), ("hidden", "Filled in by Resource Manager"))


@dataclass(frozen=True)
class StackModel:
    """The stack's variables, tags and limit notes (the port policy is `Derived.rules`)."""

    config: StackConfig
    variables: tuple[Variable, ...]
    limit_notes: tuple[str, ...]
    tags: dict[str, str]

    def variable(self, name: str) -> Variable:
        return next(v for v in self.variables if v.name == name)


def build_model(config: StackConfig, on: dt.date | None = None) -> StackModel:
    """The variables, tags and limit notes of a validated config."""
    return StackModel(
        config=config,
        variables=tuple(_variables(config, on)),
        limit_notes=tuple(_limit_notes(on)),
        tags={"flowstack-stack": config.name, **config.tags},
    )


def _limit_notes(on: dt.date | None) -> list[str]:
    return [f"{r.a1_max_ocpus} OCPU / {r.a1_max_memory_gbs} GB from {r.effective} ({'verified' if r.verified else 'reported, not verified'})"
            for r in limits.in_force(on)]


def _variables(c: StackConfig, on: dt.date | None) -> list[Variable]:
    """Every variable of the stack, in form order: placement and access, service, sizing, secrets, alerts."""
    return [*_base_variables(c), *_service_variables(c), *_sizing_variables(c, on), *_secret_variables(c), *_alert_variables(c)]


def _base_variables(c: StackConfig) -> list[Variable]:
    v: list[Variable] = [
        Variable("tenancy_ocid", "string", "OCID of the tenancy (filled in by Resource Manager).", "hidden", "Tenancy", has_default=False, visible=False),
        Variable(
            "compartment_ocid", "string", "OCID of the compartment the stack's resources are created in.", "placement", "Compartment",
            has_default=False, schema_type="oci:identity:compartment:id",
        ),
        Variable("region", "string", "OCI region to deploy to (filled in by Resource Manager).", "hidden", "Region", default=c.region, visible=False),
        Variable(
            "availability_domain_number", "number",
            "Availability domain to launch in, 1-based; wraps around in regions with fewer domains. Try another one on 'Out of host capacity'.",
            "placement", "Availability domain number", default=c.instance.availability_domain,
            **_within("availability_domain_number", *bounds()["availability_domain_number"]),
        ),
        Variable(
            "availability_domain_name", "string",
            "Availability domain by name; overrides availability_domain_number when set.",
            "placement", "Availability domain (optional)", default="",
            schema_type="oci:identity:availabilitydomain:name",
            schema_extra={"dependsOn": {"compartmentId": "${compartment_ocid}"}, "required": False},
        ),
        Variable(
            "ssh_public_key", "string", "OpenSSH public key allowed to log in as ubuntu.", "access", "SSH public key",
            has_default=False, schema_type="oci:core:ssh:publickey",
            # The one ssh key rule (inputguard): locally it also opens the key's base64 blob.
            validations=(Validation(f"can(regex({hcl_string(SSH_PUBLIC_KEY_REGEX)}, var.ssh_public_key))",
                                    f"ssh_public_key must be exactly one OpenSSH public key line: {SSH_KEY_EXAMPLE}.", ssh_public_key_ok),),
        ),
        Variable(
            "ssh_source_cidr", "string",
            "Who may reach SSH (port 22), as a CIDR such as 203.0.113.7/32. Never 0.0.0.0/0.",
            "access", "SSH allowed from (CIDR)",
            default=str(c.network.ssh_source_cidr) if c.network.ssh_source_cidr else None,
            has_default=c.network.ssh_source_cidr is not None,
            validations=(
                # The prefix length is read by the regex (never endswith "/0": /00 and /000 are /0 too).
                Validation(f"can(cidrhost(var.ssh_source_cidr, 0)) && can(regex({hcl_string(SSH_CIDR_REGEX)}, var.ssh_source_cidr))",
                           f"ssh_source_cidr must be an IPv4 CIDR such as 203.0.113.7/32, at widest a /{SSH_MIN_PREFIX}: never open to the whole internet.",
                           _ssh_source_ok),
            ),
        ),
    ]
    if c.domains.auto:
        return v  # the server derives its names at boot (sslip.io): nothing to ask
    return v + [Variable(f"{k}_host", "string", f"Host name of the {what} server; point its DNS A record at public_ip.", "service", f"{what} host name",
                         default=getattr(c.domains, f"{k}_host"), validations=(_regex_rule(f"{k}_host", HOSTNAME_REGEX, f"{k}_host must be a DNS host name such as space-{k}.example.com."),))
                for k, what in (("socket", "Socket.IO"), ("livekit", "LiveKit"))]


def _service_variables(c: StackConfig) -> list[Variable]:
    v: list[Variable] = []
    if c.domains.turn_host:
        v.append(Variable(
            "turn_host", "string", "Host name of LiveKit's TURN/TLS endpoint; point its DNS A record at public_ip.", "service", "TURN host name",
            default=c.domains.turn_host, validations=(_regex_rule("turn_host", HOSTNAME_REGEX, "turn_host must be a DNS host name."),),
        ))
    v.append(Variable(
        "livekit_api_key", "string", "LiveKit API key name; its secret is generated by Terraform and shown only as a sensitive output.",
        "service", "LiveKit API key", default=c.livekit.api_key,
        validations=(_regex_rule("livekit_api_key", "^[A-Za-z0-9_]{3,64}$", "livekit_api_key must be 3-64 letters, digits or underscores."),),
    ))
    # The built-in sample app (neither image nor git) ships inside cloud-init: nothing to ask.
    if c.socket.image:
        v.append(Variable("socket_image", "string", "Container image of the Socket.IO app.", "service", "Socket.IO app image", default=c.socket.image,
                          validations=(_regex_rule("socket_image", IMAGE_REGEX, "socket_image must be an image reference such as ghcr.io/you/app:1.0."),)))
    elif c.socket.git is not None:
        # No default when the config has no real URL (absent, or the reference config's example):
        # the form and rm-apply then ask for it, instead of deploying a server that can never be ready.
        url, ssh = c.socket.git.known_url, c.socket.git.ssh
        # The deploy-key route on: https or ssh; off: https only, and the message says how to turn it on.
        rule = (_regex_rule("socket_git_url", f"{GIT_URL_REGEX}|{GIT_SSH_URL_REGEX}", "socket_git_url must be an https:// or ssh git URL, e.g. git@github.com:you/app.git.") if ssh else
                _regex_rule("socket_git_url", GIT_URL_REGEX, "socket_git_url must be an https:// git URL without user:token@, e.g. https://github.com/you/app.git "
                            "(an ssh URL needs socket.git.deploy_key: true in the config and a key from `flowstack deploy-key`)."))
        v.append(Variable("socket_git_url", "string", f"{'https:// or ssh' if ssh else 'https://'} git URL of the Socket.IO app, cloned and built on the server.", "service", "Socket.IO app git URL",
                          default=url, has_default=url is not None, validations=(rule,)))
        v.append(Variable("socket_git_ref", "string", "Branch or tag of the Socket.IO app to build.", "service", "Socket.IO app git ref",
                          default=c.socket.git.ref, validations=(_regex_rule("socket_git_ref", GIT_REF_REGEX, "socket_git_ref may hold only letters, digits and . _ / + -."),)))
    v.append(Variable("server_apply_at", "string", "Quiet hour (HH:MM, server time zone) at which the server applies a config change; empty: at once",
                      "service", "Apply config changes at (HH:MM)", default="", schema_extra={"pattern": APPLY_AT_REGEX},  # the form checks it too
                      validations=(_regex_rule("server_apply_at", APPLY_AT_REGEX, "server_apply_at must be HH:MM (00:00 to 23:59), or empty to apply at once."),)))
    return v


def _sizing_variables(c: StackConfig, on: dt.date | None) -> list[Variable]:
    # The hard deploy-time check follows the newest *verified* limit; a reported, unverified
    # one only warns (in `validate`), so a stack that validates can always be planned.
    reading = [r for r in limits.in_force(on) if r.verified][-1]
    b = bounds()
    cpu, mem = b["instance_ocpus"], b["instance_memory_gbs"]
    why = ""
    if c.always_free:
        # Guard the console too: the config's guard is useless if the form lets anyone type 4 / 24.
        cpu, mem = (cpu[0], min(cpu[1], reading.a1_max_ocpus)), (mem[0], min(mem[1], reading.a1_max_memory_gbs))
        why = f" (Always Free limit as of {reading.effective}; regenerate the stack with always_free: false to pay for more)"
    return [
        Variable("instance_ocpus", "number", "OCPUs of the instance.", "sizing", "OCPUs", default=c.instance.ocpus, **_within("instance_ocpus", *cpu, why)),
        Variable("instance_memory_gbs", "number", "Memory of the instance in GB.", "sizing", "Memory (GB)", default=c.instance.memory_gbs,
                 **_within("instance_memory_gbs", *mem, why)),
        Variable("boot_volume_gbs", "number", "Boot volume size in GB (at least 47; Always Free covers 200 GB of volumes in all).", "sizing", "Boot volume (GB)",
                 default=c.instance.boot_volume_gbs, **_within("boot_volume_gbs", *b["boot_volume_gbs"])),
    ]


def _within(name: str, low: float, high: float, why: str = "") -> dict[str, Any]:
    """The Terraform range check and the form's minimum/maximum, made from the same two numbers.

    Example: ``_within("x", 1, 3)["schema_extra"]`` -> ``{"minimum": 1, "maximum": 3}``.
    """
    check = _number_rule(name, (">=", low), ("<=", high), message=f"{name} must be between {low:g} and {high:g}{why}.")
    return {"validations": (check,), "schema_extra": {"minimum": low, "maximum": high}}


def _secret_variables(c: StackConfig) -> list[Variable]:
    v: list[Variable] = []
    if c.tls.mode == "cloudflare_origin":
        v += [
            # type: file: Resource Manager passes the uploaded file base64-encoded, which is what
            # cloud-init's b64 encoding wants; a password field would drop the PEM's line breaks.
            Variable("tls_origin_certificate", "string", "Cloudflare origin certificate: upload the PEM file (base64 of it with rm-apply).", "secrets", "Origin certificate (PEM file)",
                     has_default=False, sensitive=True, schema_type="file", validations=(_pem_check("tls_origin_certificate"),)),
            Variable("tls_origin_private_key", "string", "Private key of the Cloudflare origin certificate: upload the PEM file (base64 of it with rm-apply).", "secrets",
                     "Origin private key (PEM file)", has_default=False, sensitive=True, schema_type="file", validations=(_pem_check("tls_origin_private_key"),)),
        ]
    if c.socket.git is not None:  # a private repository's read-only token: the server agent's credential helper reads it (issue 22)
        v.append(Variable("socket_git_token", "string", "Read-only token of a private app repository (GitHub fine-grained or GitLab project access token); empty for a public one.", "secrets",
                          "App repository token (private repos only)", default="", sensitive=True, validations=(_regex_rule("socket_git_token", r"^[A-Za-z0-9._-]{0,512}$", "socket_git_token may hold only letters, digits and . _ - (a token, not a URL)."),)))
    if c.socket.git is not None and c.socket.git.ssh:  # the deploy-key route: `flowstack deploy-key` makes the key (issue 22)
        v.append(Variable("socket_git_ssh_key", "string", "Private half of the repository's read-only deploy key (flowstack deploy-key): upload the file "
                          "(--var socket_git_ssh_key=@FILE with rm-apply); empty for a public repository.", "secrets", "App repository deploy key (file)",
                          default="", sensitive=True, schema_type="file", validations=(_ssh_key_check("socket_git_ssh_key"),)))
    if c.socket.image:  # a private registry (e.g. OCI's <region>.ocir.io): the server's docker reads them from a 0600 config (issue 22)
        v += [Variable(f"socket_registry_{k}", "string", f"{what} for a private socket.image registry; empty for a public image.", "secrets", f"Registry {k} (private images)", default="",
                       sensitive=True, validations=(_regex_rule(f"socket_registry_{k}", rf"^[^\s'\"{c}]{{0,512}}$", f"socket_registry_{k} may not hold spaces, quotes{' or :' if c else ''}."),))
              for k, what, c in (("username", "User (OCI: <namespace>/<user>)", ":"), ("password", "Password or auth token", ""))]
    for name in c.socket.secret_env:
        var = secret_env_variable(name)
        v.append(Variable(var, "string", f"Value of the Socket.IO app's secret environment variable {name}.", "secrets", name, has_default=False, sensitive=True,
                          # The value is written single-quoted into compose's env_file: a quote or line break would end it early.
                          validations=(Validation(f"!can(regex(\"['\\\\r\\\\n]\", var.{var}))", f"{var} may not contain single quotes or line breaks.",
                                                  lambda v: re.search(r"['\r\n]", v) is None),)))
    return v


def _alert_variables(c: StackConfig) -> list[Variable]:
    v: list[Variable] = []
    if c.budget.enabled:
        v += [
            Variable("budget_amount", "number", "Monthly budget amount in the account's currency.", "alerts", "Budget amount", default=c.budget.amount,
                     validations=(_number_rule("budget_amount", (">", 0), message="budget_amount must be above 0."),)),
            Variable("budget_alert_recipients", "string", "Comma-separated e-mail addresses that receive budget alerts.", "alerts", "Budget alert e-mails",
                     default=", ".join(c.budget.recipients), has_default=bool(c.budget.recipients),
                     validations=(_email_list_check("budget_alert_recipients"),)),
        ]
    if c.traffic_alarm.enabled:
        v.append(Variable("alarm_emails", "string", "Comma-separated e-mail addresses subscribed to the traffic alarm topic.", "alerts", "Traffic alarm e-mails",
                          default=", ".join(c.traffic_alarm.emails), has_default=bool(c.traffic_alarm.emails),
                          validations=(_email_list_check("alarm_emails"),)))
        if c.traffic_alarm.slack:
            # OCI Notifications takes an https URL of at most 512 characters without query parameters.
            v.append(Variable("alarm_slack_url", "string", "Slack-format webhook URL for the traffic alarm (Slack incoming webhook; a Discord webhook URL with /slack appended is untested with OCI: unverified).",
                              "alerts", "Alarm webhook URL", has_default=False, sensitive=True,
                              validations=(Validation(f"length(var.alarm_slack_url) <= 512 && can(regex({hcl_string(WEBHOOK_REGEX)}, var.alarm_slack_url))",
                                                      "alarm_slack_url must be an https:// webhook URL without spaces or query parameters, at most 512 characters.",
                                                      lambda v: len(v) <= 512 and _re2_search(WEBHOOK_REGEX, v)),)))
    return v


def _pem_check(name: str) -> Validation:
    """``var.name`` is base64 of a PEM file (what a schema.yaml ``file`` field yields)."""
    return Validation(f'can(regex("(?m)^-----BEGIN [A-Z0-9 ]+-----", base64decode(var.{name})))',
                      f"{name} must be a PEM file (base64-encoded, as the form's file upload passes it) with a -----BEGIN line.", pem_b64_ok)


def _ssh_key_check(name: str) -> Validation:
    """``var.name`` is empty or base64 of an unencrypted OpenSSH/PEM private key (what the form's file upload passes)."""
    return Validation(f'var.{name} == "" || can(regex("^-----BEGIN (OPENSSH|EC|RSA) PRIVATE KEY-----", base64decode(var.{name})))',
                      f"{name} must be the private key file of `flowstack deploy-key` (base64-encoded, as the form's upload and @FILE pass it), or empty.",
                      ssh_private_key_b64_ok)


def _email_list_check(name: str) -> Validation:
    """Every comma-separated entry of ``var.name`` is an e-mail address (the console form is free text)."""
    return Validation(f"alltrue([for e in compact([for x in split(\",\", var.{name}) : trimspace(x)]) : can(regex({hcl_string(EMAIL_REGEX)}, e))])",
                      f"{name} must be e-mail addresses separated by commas, such as ops@example.com, me@example.com.", _emails_ok)


# --- Template variables: what cloud-init takes from Terraform ---------------


def template_variables(config: StackConfig) -> list[str]:
    """Names of the ``${...}`` placeholders the cloud-init template uses, in a stable order."""
    names = ["livekit_api_key", "livekit_api_secret"]
    if not config.domains.auto:
        names += ["socket_host", "livekit_host"] + (["turn_host"] if config.domains.turn_host else [])
    if config.socket.image:
        names += ["socket_image", "socket_registry_auth_b64"]
    elif config.socket.git:
        names += ["socket_git_url", "socket_git_ref", "socket_git_credentials_b64"] + (["socket_git_ssh_key_b64"] if config.socket.git.ssh else [])
    if config.tls.mode == "cloudflare_origin":
        names += ["tls_origin_certificate_b64", "tls_origin_private_key_b64"]
    if config.socket.secret_env:
        names.append("socket_secret_env_b64")
    return names + (["redis_password"] if config.scale.scaled else [])  # several nodes: scale.tf


# The HCL expression passed for each template variable (rm-apply's server diff reads it too).
TEMPLATE_EXPRESSIONS = {
    "livekit_api_key": "var.livekit_api_key",
    "livekit_api_secret": "random_password.livekit_api_secret.result",
    "socket_host": "var.socket_host",
    "livekit_host": "var.livekit_host",
    "turn_host": "var.turn_host",
    "socket_image": "var.socket_image",
    "socket_git_url": "var.socket_git_url",
    "socket_git_ref": "var.socket_git_ref",
    # Docker's client config ({"auths": {registry: {"auth": base64(user:password)}}}); the registry is the image's first part when it names a host.
    "socket_registry_auth_b64": 'base64encode(var.socket_registry_password == "" ? jsonencode({auths = {}}) : jsonencode({auths = {(length(regexall("[.:]", split("/", var.socket_image)[0])) > 0 ? split("/", var.socket_image)[0] : "https://index.docker.io/v1/") = {auth = base64encode("${var.socket_registry_username}:${var.socket_registry_password}")}}}))',
    # git's credential format; the username is any non-empty word for GitHub and GitLab access tokens.
    "socket_git_credentials_b64": 'base64encode("username=x-access-token\\npassword=${var.socket_git_token}\\n")',
    "socket_git_ssh_key_b64": "var.socket_git_ssh_key",  # already base64 (a schema.yaml file field)
    "tls_origin_certificate_b64": "var.tls_origin_certificate",  # already base64 (a schema.yaml file field)
    "tls_origin_private_key_b64": "var.tls_origin_private_key",
    "socket_secret_env_b64": "local.socket_secret_env_b64",
    "redis_password": "random_password.redis.result",
}


def template_variable_expressions(config: StackConfig) -> dict[str, str]:
    """The HCL expression main.tf passes for each template variable."""
    return {name: TEMPLATE_EXPRESSIONS[name] for name in template_variables(config)}


def secret_env_lines(config: StackConfig) -> list[tuple[str, str]]:
    """(ENV_NAME, variable name) for each secret environment variable of the app."""
    return [(name, secret_env_variable(name)) for name in config.socket.secret_env]
