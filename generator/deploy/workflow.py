"""The deploy policy of rm-plan / rm-apply: build and check locally, then plan and apply.

Local mistakes (a config that fails its checks, a typo in ``--var``, a missing required
value) are refused before any request. It sits on top of `build` (it ships the zip) and
`rm` (the Resource Manager client); the CLI only parses options and prints.

>>> prepare("stacks/flowspace.yaml", {}).built.config.name  # doctest: +SKIP
'flowspace'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..build import Built, build
from ..contract import AUTO_FILLED
from ..model import build_model
from . import rm
from .results import DeployResult, JobResult
from .variables import VariableSpec


@dataclass(frozen=True)
class Prepared:
    """A built stack and the variable spec its --var values were checked against."""

    built: Built
    spec: VariableSpec
    variables: dict[str, str]


def prepare(config_path: str, variables: dict[str, str]) -> Prepared:
    """Build and validate the zip and check the --var names, before any request."""
    built = build(config_path)
    spec = VariableSpec.from_variables(built.config.name, build_model(built.config).variables, AUTO_FILLED)
    spec.check_names(variables)
    spec.check_rules(variables)
    return Prepared(built, spec, variables)


def deploy(prepared: Prepared, deployer: rm.Deployer, compartment: str, *, apply: bool,
           confirm: Callable[[JobResult, tuple[int, int, int] | None], bool] | None,
           retry_capacity: int = 0, allow_replace: bool = False) -> DeployResult:
    """Upload, PLAN and (when ``apply``) APPLY the prepared stack; see `rm.Deployer.deploy`."""
    return deployer.deploy(
        prepared.built.config.name, compartment, prepared.built.zip_bytes, prepared.variables,
        apply=apply, confirm=confirm if apply else None, retry_capacity=retry_capacity,
        spec=prepared.spec, allow_replace=allow_replace,
    )
