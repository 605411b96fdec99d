"""Issue 11 item 2/4: `flowstack validate` runs real Terraform (validate + plan through the double).

Each planted defect is a Terraform FAIL naming file and line; every documented variant gets
Terraform's PASS for validate and plan. Replaced: OCI (the provider double answers).
Slow: each case is a `flowstack validate` process running Terraform twice.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_tfdouble import DEFECTS, _line_of
from tfdouble_support import FLOWSTACK, VARIANTS, generate_variant

pytestmark = pytest.mark.slow


def validate(path: Path, *args: str) -> tuple[int, dict]:
    r = subprocess.run([str(FLOWSTACK), "validate", str(path), "--json", *args], capture_output=True, text=True, timeout=300)
    return r.returncode, json.loads(r.stdout)


def terraform_results(report: dict) -> dict[str, dict]:
    return {c["check"]: c for c in report["checks"] if c["check"].startswith("terraform")}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_gets_terraforms_pass(name: str, tmp_path: Path, terraform_bin) -> None:
    code, report = validate(generate_variant(tmp_path, VARIANTS[name]))
    tf = terraform_results(report)
    assert tf["terraform validate"]["status"] == "pass" and tf["terraform plan"]["status"] == "pass", tf
    assert "to add, 0 to change, 0 to destroy" in tf["terraform plan"]["detail"]


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_planted_defect_is_a_terraform_fail_with_file_and_line(name: str, tf_stack: Path) -> None:
    filename, edit, marker, summary = DEFECTS[name]
    path = tf_stack / filename
    text = edit(path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")
    line = _line_of(text, marker) + (1 if marker.startswith("\n") else 0)
    code, report = validate(tf_stack)
    assert code != 0
    problems = [p for c in terraform_results(report).values() if c["status"] == "fail" for p in c["problems"]]
    assert any(p.startswith(f"{filename}:{line}: {summary}") for p in problems), problems


def test_image_filter_selecting_a_minimal_image_is_a_terraform_fail(tf_stack: Path) -> None:
    main = tf_stack / "main.tf"
    text = main.read_text(encoding="utf-8")
    loose = re.sub(r'values = \["[^"]*"\]', r'values = ["^Canonical-Ubuntu-22\\\\.04-"]', text, count=1)
    assert loose != text
    main.write_text(loose, encoding="utf-8")
    code, report = validate(tf_stack)
    line = _line_of(loose, "      condition     = length(self.images)")
    plan = terraform_results(report)["terraform plan"]
    assert code != 0 and plan["status"] == "fail"
    assert any(p.startswith(f"main.tf:{line}: Resource postcondition failed") and "Minimal" in p for p in plan["problems"]), plan


def test_templatefile_placeholder_without_a_value_is_a_terraform_fail(tf_stack: Path) -> None:
    with (tf_stack / "cloud-init.yaml").open("a", encoding="utf-8") as f:
        f.write("# planted: ${not_given}\n")
    code, report = validate(tf_stack)
    problems = [p for c in terraform_results(report).values() if c["status"] == "fail" for p in c["problems"]]
    assert code != 0 and any(p.startswith("main.tf:") and "not_given" in p for p in problems), problems


@pytest.mark.parametrize("var, message", [("instance_ocpus=8", "instance_ocpus must be between 1 and 4 (Always Free limit"),
                                          ("ssh_source_cidr=0.0.0.0/00", "ssh_source_cidr must be an IPv4 CIDR")])
def test_bad_var_fails_terraforms_validation_rule(tf_stack: Path, var: str, message: str) -> None:
    code, report = validate(tf_stack, "--var", var)
    plan = terraform_results(report)["terraform plan"]
    assert code != 0 and plan["status"] == "fail"
    assert any(p.startswith("variables.tf:") and "Invalid value for variable" in p and message in p for p in plan["problems"]), plan


def test_no_terraform_is_a_skip_that_says_how_to_get_one(tf_stack: Path, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "FLOWSTACK_TERRAFORM": str(tmp_path / "none"), "HOME": str(tmp_path)}
    r = subprocess.run([str(FLOWSTACK), "validate", str(tf_stack), "--json"], capture_output=True, text=True, env=env, timeout=300)
    tf = terraform_results(json.loads(r.stdout))
    assert tf["terraform"]["status"] == "skip" and "make terraform" in tf["terraform"]["detail"]
    assert "go install github.com/hashicorp/terraform@v1.5.7" in tf["terraform"]["detail"]


def test_reedited_cloud_init_changes_nothing_on_the_instance(tf_stack: Path, tmp_path: Path) -> None:
    """ignore_changes on user_data, for real: apply, edit cloud-init, re-plan: the instance is a no-op."""
    from tfdouble_support import sample_variables

    from generator.tfdouble.runner import TerraformRun

    work = Path(shutil.copytree(tf_stack, tmp_path / "work"))
    with TerraformRun(work, sample_variables(work)) as run:
        assert run.apply().ok
        with (work / "cloud-init.yaml").open("a", encoding="utf-8") as f:
            f.write("# edited after the first apply\n")
        assert run.plan("again.tfplan").ok
        changes = {c["address"]: c["change"]["actions"] for c in run.show("again.tfplan")["resource_changes"]}
    assert changes["oci_core_instance.server"] == ["no-op"]


def test_flowstack_plan_lists_exactly_the_reference_resources() -> None:
    from tfdouble_support import REFERENCE, REFERENCE_RESOURCES

    r = subprocess.run([str(FLOWSTACK), "plan", str(REFERENCE)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert {line.split()[1] for line in lines[:-1]} == REFERENCE_RESOURCES
    assert all(line.startswith("create ") for line in lines[:-1])
    assert lines[-1].startswith("8 resource(s) to create, update or replace") and "Plan: 8 to add" in lines[-1]


def test_flowstack_plan_refuses_a_bad_var_with_terraforms_message() -> None:
    from tfdouble_support import REFERENCE

    r = subprocess.run([str(FLOWSTACK), "plan", str(REFERENCE), "--var", "instance_ocpus=8"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.count("Error:") == 1 and "variables.tf:" in r.stderr and "instance_ocpus must be between 1 and 4 (Always Free limit" in r.stderr


@pytest.mark.parametrize("source", ["starter", "fixture"])
def test_the_starter_and_the_fixture_config_get_terraforms_pass(source: str, tmp_path: Path) -> None:
    """A config path (rendered first) as well as a stack directory: `flowstack init`'s starter and valid.yaml."""
    if source == "starter":
        config = tmp_path / "stacks" / "mine.yaml"
        subprocess.run([str(FLOWSTACK), "init", str(config)], check=True, capture_output=True, timeout=60)
    else:
        config = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "valid.yaml"
    code, report = validate(config)
    tf = terraform_results(report)
    assert tf["terraform validate"]["status"] == "pass" and tf["terraform plan"]["status"] == "pass", tf
