"""The deploy policy of rm-plan / rm-apply: build and check locally, then plan and apply.

Local mistakes (a config that fails its checks, a typo in ``--var``, a missing required
value) are refused before any request. It sits on top of `build` (it ships the zip) and
`rm` (the Resource Manager client); the CLI only parses options and prints.

>>> prepare("stacks/flowspace.yaml", {}).built.config.name  # doctest: +SKIP
'flowspace'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from generator.build.pipeline import Built, build
from generator.config.rotate import front_end_steps
from generator.core.contract import APPLY_AT_REGEX, APPLY_AT_VARIABLE, AUTO_FILLED
from generator.core.errors import InvalidOption
from generator.derive.model import build_model
from generator.emit.cloudinit import server_timezone

from . import rm, stackcreate
from .results import DeployResult, JobResult
from .serverdiff import ServerDiff, diff_bundles, read_zip
from .sshkey import NAME as SSH_KEY_VARIABLE
from .sshkey import check_ssh_public_key
from .variables import VariableSpec


@dataclass(frozen=True)
class Prepared:
    """A built stack and the variable spec its --var values were checked against."""

    built: Built
    spec: VariableSpec
    variables: dict[str, str]
    config_path: str = ""


def check_apply_at(value: str) -> str:
    """``--at``'s value when it is a time of day ``HH:MM`` (24-hour); else `InvalidOption` naming the right form.

    >>> check_apply_at("04:30")
    '04:30'
    """
    if value and re.fullmatch(APPLY_AT_REGEX, value):
        return value
    m = re.fullmatch(r"\s*([01]?[0-9]|2[0-3])\s*[:.h]?\s*([0-5][0-9])\s*", value)
    hint = f' (did you mean "{int(m.group(1)):02d}:{m.group(2)}"?)' if m else ""
    raise InvalidOption("--at", value, "a time of day as HH:MM, 24-hour, in the server's time zone, e.g. 04:30" + hint)


def prepare(config_path: str, variables: dict[str, str], apply_at: str | None = None) -> Prepared:
    """Build and validate the zip and check the --var names (and ``--at``), before any request."""
    if apply_at is not None:
        variables = {**variables, APPLY_AT_VARIABLE: check_apply_at(apply_at)}
    built = build(config_path)
    spec = VariableSpec.from_variables(built.config.name, build_model(built.config).variables, AUTO_FILLED)
    spec.check_names(variables)
    variables = spec.read_files(variables)  # --var NAME=@FILE of a file field: its base64, as the form uploads it
    spec.check_rules(variables)
    if SSH_KEY_VARIABLE in variables:
        check_ssh_public_key(variables[SSH_KEY_VARIABLE])
    return Prepared(built, spec, variables, str(config_path))


def deploy(prepared: Prepared, deployer: rm.Deployer, compartment: str, *, apply: bool,
           confirm: Callable[[JobResult, tuple[int, int, int] | None], bool] | None,
           retry_capacity: int = 0, allow_replace: bool = False,
           on_server_diff: Callable[[ServerDiff, list[str]], None] | None = None) -> DeployResult:
    """Upload, PLAN and (when ``apply``) APPLY the prepared stack; see `rm.Deployer.deploy`.

    First, with ``on_server_diff``, what the deploy changes on the running server is worked
    out (`server_changes`) and handed over with the lines to print, before anything is uploaded.
    """
    if on_server_diff is not None:
        diff, prepared = server_changes(prepared, deployer, compartment)
        on_server_diff(diff, server_lines(diff, prepared))
    return deployer.deploy(
        prepared.built.config.name, compartment, prepared.built.zip_bytes, prepared.variables,
        apply=apply, confirm=confirm if apply else None, retry_capacity=retry_capacity,
        spec=prepared.spec, allow_replace=allow_replace,
    )


def server_changes(prepared: Prepared, deployer: rm.Deployer, compartment: str) -> tuple[ServerDiff, Prepared]:
    """The server diff from what the last succeeded APPLY gave the server to the prepared zip.

    A quiet hour left on the stack by an earlier ``--at`` is cleared when this run sets none
    (so the change applies at once); the returned `Prepared` carries that.

    >>> diff, prepared = server_changes(prepared, deployer, compartment)  # doctest: +SKIP
    >>> diff.lines()[0]  # doctest: +SKIP
    'Server: no server file changes; nothing restarts.'
    """
    stack = deployer.find_stack(prepared.built.config.name, compartment)
    running = None if stack is None else stackcreate.running_config(deployer, stack.id)
    if running is None:
        return ServerDiff(first_deploy=True), prepared
    old_zip, old_vars, stack_vars = running
    variables = prepared.variables
    if stack_vars.get(APPLY_AT_VARIABLE) and APPLY_AT_VARIABLE not in variables and APPLY_AT_VARIABLE in prepared.spec.names:
        variables = {**variables, APPLY_AT_VARIABLE: ""}
        prepared = replace(prepared, variables=variables)
    new_vars = {**stack_vars, **variables}
    try:
        diff = diff_bundles(read_zip(old_zip), old_vars, prepared.built.files, new_vars)
    except ValueError as exc:
        diff = ServerDiff(unavailable=f"the stack's current zip cannot be read ({exc})")
    if variables.get(APPLY_AT_VARIABLE) == "" and stack_vars.get(APPLY_AT_VARIABLE):
        diff.cleared_at = stack_vars[APPLY_AT_VARIABLE]
    return diff, prepared


def server_lines(diff: ServerDiff, prepared: Prepared) -> list[str]:
    """What rm-apply prints about the server: the diff, when it applies, and what drops.

    >>> server_lines(ServerDiff(first_deploy=True), None)[0][:27]  # type: ignore[arg-type]
    'Server: first deploy (no st'
    """
    lines = diff.lines()
    if diff.first_deploy or diff.no_agent or (diff.unavailable and not diff.rotated):
        return lines
    zone = server_timezone(prepared.built.config)
    at = prepared.variables.get(APPLY_AT_VARIABLE, "")
    if at:
        lines.append(f"The server applies this change at {at} ({zone}, the server's time zone), not at once.")
    elif diff.cleared_at:
        lines.append(f"The quiet hour {diff.cleared_at} of an earlier --at is cleared: this change applies at once.")
    if diff.livekit_restarts:
        when = f"at {at}" if at else "when the server applies the change (within a few minutes)"
        lines.append(f"LiveKit restarts {when}: live calls drop."
                     + ("" if at else f" To wait for a quiet hour, use --at HH:MM ({zone})."))
    if diff.rotated:
        lines.append("The front end must get the new LiveKit API secret after the apply:")
        lines += [f"  {step}" for step in front_end_steps(prepared.config_path)]
    return lines
