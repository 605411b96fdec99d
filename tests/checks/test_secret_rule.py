"""Issue 9: one secret rule, and every consumer of it agrees, for every variable of every variant.

The consumers: the zip's secret check (`flowstack validate`: a secret variable must have no
default), the terminal (rm-apply / rm-plan masking of --var values) and the console form
(schema.yaml's masked ``password`` input, variables.tf's ``sensitive = true``). Each is asked
about each variable through its real code path: the check runs on a stack whose variables.tf
was given a default for that variable, the masking runs through `rmvars.mask_variables` with the
spec rm-apply builds, and the form is read back from the rendered schema.yaml.
"""

from __future__ import annotations

import re

import hcl2
import pytest
import yaml
from test_alerts import BASE, MODES
from test_server_files import VARIANTS
from variants import make_config

from generator.checks.report import FAIL, PASS
from generator.checks.run import validate_files
from generator.checks.secrets import check_secrets
from generator.checks.stack import Stack
from generator.config.load import parse_config
from generator.config.schema import StackConfig
from generator.core.contract import AUTO_FILLED, is_secret
from generator.deploy import variables as rmvars
from generator.derive.model import build_model
from generator.emit.render import render_stack

PLANTED = "planted-value-0123456789"


def configs() -> dict[str, StackConfig]:
    out = {name: make_config(changes) for name, changes in VARIANTS.items()}
    out.update({f"alerts-{name}": parse_config(yaml.safe_dump({**BASE, **extra})) for name, extra in MODES.items()})
    return out


CONFIGS = configs()


def with_default(variables_tf: str, name: str) -> str:
    """variables.tf with ``name``'s default (if any) replaced by a planted string literal."""
    block = re.search(rf'(?ms)^variable "{name}" \{{\n(.*?)^\}}\n', variables_tf)
    assert block, name
    body = re.sub(r"(?m)^  default\s*=.*\n", "", block.group(1))
    new = f'variable "{name}" {{\n  default = "{PLANTED}"\n{body}}}\n'
    return variables_tf[: block.start()] + new + variables_tf[block.end():]


def zip_check_calls_it_secret(files: dict[str, bytes], config: StackConfig, name: str) -> bool:
    # The "secrets" check of validate_files, on variables.tf alone (the other files are
    # checked unplanted in the test below; parsing them 400 times would only cost time).
    planted = {"variables.tf": with_default(files["variables.tf"].decode(), name).encode()}
    result = check_secrets(Stack(planted), config)
    assert result.status in (PASS, FAIL), result
    return result.status == FAIL and any(f"variable {name} has a default" in p for p in result.problems)


@pytest.mark.parametrize("variant", CONFIGS)
def test_zip_check_terminal_and_form_agree(variant: str) -> None:
    config = CONFIGS[variant]
    files = render_stack(config)
    model = build_model(config)
    spec = rmvars.VariableSpec.from_variables(config.name, model.variables, AUTO_FILLED)
    form = yaml.safe_load(files["schema.yaml"])["variables"]
    declared = {k.strip('"'): v for entry in hcl2.loads(files["variables.tf"].decode())["variable"] for k, v in entry.items()}
    assert {r.status for r in validate_files(files, config).results if r.check == "secrets"} == {PASS}
    disagreements = []
    for v in model.variables:
        secret = is_secret(v.name, sensitive=v.sensitive)
        views = {
            "zip secret check": zip_check_calls_it_secret(files, config, v.name),
            "terminal masking": rmvars.mask_variables({v.name: PLANTED}, spec.sensitive)[v.name] == rmvars.MASK,
            "console form": form[v.name]["type"] == "password" or (v.schema_type is not None and secret),
            "variables.tf sensitive": declared[v.name].get("sensitive") is True,
        }
        if set(views.values()) != {secret}:
            disagreements.append(f"{v.name} (secret={secret}): {views}")
    assert disagreements == []


def test_every_variant_has_secret_and_plain_variables() -> None:
    # The agreement test would prove nothing if no variant had a secret.
    names = {v.name for c in CONFIGS.values() for v in build_model(c).variables if v.secret}
    assert {"socket_secret_jwt_secret", "tls_origin_private_key", "alarm_slack_url"} <= names


def test_the_rule() -> None:
    assert is_secret("livekit_api_secret") and is_secret("JWT_SECRET") and is_secret("db_password")
    assert is_secret("alarm_slack_url", sensitive=True) and not is_secret("alarm_slack_url")
    # LiveKit's API key is an identifier clients see; its secret is livekit_api_secret.
    assert not is_secret("livekit_api_key") and not is_secret("socket_host")


def test_zip_check_fails_on_a_secret_with_a_default_and_passes_without() -> None:
    config = CONFIGS["secret-env"]
    files = render_stack(config)
    assert zip_check_calls_it_secret(files, config, "socket_secret_jwt_secret")
    assert not zip_check_calls_it_secret(files, config, "socket_host")
