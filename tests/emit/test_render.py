"""Rendering: the reference stack's files, HCL literal escaping, and `terraform fmt` layout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import hcl2
import pygohcl
import pytest
import yaml

from generator.config.load import load_config, parse_config
from generator.core.hcl import hcl_string
from generator.emit.render import STACK_FILES, render_stack
from generator.emit.templatefile import apply_template, sample_values

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def hclfmt(root: Path, paths: list[Path]) -> dict[str, str]:
    """HashiCorp's hclwrite.Format (terraform fmt) through @cdktf/hcl-tools' WebAssembly build."""
    out = subprocess.run(["node", str(root / "tools" / "hclfmt.js"), *map(str, paths)], capture_output=True, text=True, check=True, cwd=root)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest) -> dict[str, bytes]:
    root = Path(request.config.rootpath)
    return render_stack(load_config(root / "stacks" / "flowspace.yaml"))


def test_reference_stack_files(reference: dict[str, bytes]) -> None:
    # Issue 15: the config bundle's files follow the stack's own: bundle.tf, the manifest, one template per server file.
    assert list(reference)[: len(STACK_FILES)] == list(STACK_FILES)
    assert list(reference)[len(STACK_FILES):] == ["bundle.tf", "bundle/manifest.json", "bundle/docker-compose.yml", "bundle/livekit.yaml",
                                                   "bundle/Caddyfile", "bundle/socket-source.json", "bundle/git-credentials", "bundle/usr/local/sbin/flowstack-firewall"]
    main = reference["main.tf"].decode()
    for needle in (
        'source  = "oracle/oci"',
        'required_version = ">= 1.5.0"',
        'resource "oci_core_vcn" "main"',
        'resource "oci_core_internet_gateway" "main"',
        'resource "oci_core_route_table" "public"',
        'resource "oci_core_security_list" "public"',
        'resource "oci_core_subnet" "public"',
        'data "oci_identity_availability_domains" "ads"',
        'data "oci_core_images" "ubuntu"',
        "is_pv_encryption_in_transit_enabled = true",
        "are_legacy_imds_endpoints_disabled = true",
        "user_data           = local.user_data",
        # The config bundle: updated in place (not in ignore_changes).
        "flowstack_bundle    = local.server_bundle",
        'shape               = "VM.Standard.A1.Flex"',
        # A re-apply must never wipe the server for a newer image, an edited cloud-init, or a new
        # SSH key in the form (issue 10 item 9: the provider forces a new instance on that key).
        'ignore_changes = [source_details[0].source_id, metadata["user_data"], metadata["ssh_authorized_keys"]]',
    ):
        assert needle in main, needle


def test_every_resource_has_a_comment_saying_why(reference: dict[str, bytes]) -> None:
    lines = reference["main.tf"].decode().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("resource ", "data ")):
            assert lines[i - 1].startswith("# "), f"no comment above: {line}"


@pytest.mark.parametrize("name", ["main.tf", "variables.tf", "outputs.tf"])
def test_tf_parses_with_both_parsers(reference: dict[str, bytes], name: str) -> None:
    text = reference[name].decode()
    assert pygohcl.loads(text)
    assert hcl2.loads(text)


def test_tf_is_terraform_fmt_identical(reference: dict[str, bytes], tmp_path: Path, root: Path) -> None:
    paths = []
    for name in ("main.tf", "variables.tf", "outputs.tf", "bundle.tf"):
        (tmp_path / name).write_bytes(reference[name])
        paths.append(tmp_path / name)
    formatted = hclfmt(root, paths)
    for p in paths:
        assert formatted[str(p)] == p.read_text(), f"{p.name} differs from terraform fmt"


def test_formatter_check_can_fail(tmp_path: Path, root: Path) -> None:
    bad = tmp_path / "bad.tf"
    bad.write_text('variable "x" {\n  type = string\n  description = "y"\n}\n')
    assert hclfmt(root, [bad])[str(bad)] != bad.read_text()


def test_variables_typed_described_and_secrets_sensitive(reference: dict[str, bytes]) -> None:
    variables = {k: v for d in hcl2.loads(reference["variables.tf"].decode())["variable"] for k, v in d.items()}
    assert {"\"tenancy_ocid\"", "\"compartment_ocid\"", "\"region\"", "\"ssh_public_key\"", "\"ssh_source_cidr\"", "\"availability_domain_number\"", "\"socket_host\"", "\"livekit_host\""} <= set(variables)
    for name, body in variables.items():
        assert body.get("type"), name
        assert body.get("description"), name
    assert "default" not in variables['"ssh_source_cidr"']  # never open by default


def test_cloudflare_mode_secrets_are_sensitive(tmp_path: Path) -> None:
    text = (CONFIGS / "valid.yaml").read_text() + "tls:\n  mode: cloudflare_origin\nsocket_x: 1\n"
    text = text.replace("socket_x: 1\n", "")
    files = render_stack(parse_config(text))
    variables = {k.strip('"'): v for d in hcl2.loads(files["variables.tf"].decode())["variable"] for k, v in d.items()}
    assert variables["tls_origin_private_key"]["sensitive"] is True
    assert "default" not in variables["tls_origin_private_key"]
    schema = yaml.safe_load(files["schema.yaml"])
    # Issue 10 item 5: a file upload keeps the PEM's line breaks (a password field is one line).
    assert schema["variables"]["tls_origin_private_key"]["type"] == "file"
    assert schema["variables"]["tls_origin_certificate"]["type"] == "file"


TRICKY = 'a"b ${x} \n c %{if} \\ é 한국어 \t end'


@pytest.mark.parametrize("value", [TRICKY, "${var.region}", "$${already}", "plain"])
def test_user_text_is_escaped_not_spliced(value: str) -> None:
    """A tag and a port reason land in HCL; both must come back exactly as written."""
    cfg = (CONFIGS / "valid.yaml").read_text()
    data = yaml.safe_load(cfg)
    data["tags"] = {"owner note": value}
    data["extra_ports"] = [{"protocol": "tcp", "port": 9000, "reason": "why " + value.replace("\n", " ")}]
    files = render_stack(parse_config(yaml.safe_dump(data, allow_unicode=True)))
    main = files["main.tf"].decode()
    parsed = pygohcl.loads(main)  # HashiCorp's parser evaluates literal strings
    assert parsed["locals"]["tags"]["owner note"] == value
    rules = parsed["resource"]["oci_core_security_list"]["public"]["ingress_security_rules"]
    assert any(r["description"] == "extra_ports: why " + value.replace("\n", " ") for r in rules)
    assert hcl2.loads(main)


def test_hcl_string_escapes() -> None:
    assert hcl_string('a"b') == '"a\\"b"'
    assert hcl_string("${x}") == '"$${x}"'
    assert hcl_string("%{x}") == '"%%{x}"'
    assert hcl_string("\n\x01") == '"\\n\\u0001"'


def test_cloud_init_is_a_template_with_only_known_placeholders(reference: dict[str, bytes], root: Path) -> None:
    config = load_config(root / "stacks" / "flowspace.yaml")
    text = reference["cloud-init.yaml"].decode()
    assert text.startswith("#cloud-config\n")
    filled = apply_template(text, sample_values(config))
    doc = yaml.safe_load(filled)
    paths = {f["path"] for f in doc["write_files"]}
    # Issue 15: user_data is boot-only; the files that can change are the bundle's (below).
    assert {"/etc/systemd/system/flowstack.service", "/usr/local/sbin/flowstack-bootstrap", "/etc/systemd/system/flowstack-bootstrap.service",
            "/usr/local/sbin/flowstack-wait-dns", "/etc/docker/daemon.json", "/usr/local/sbin/flowstack-agent", "/etc/flowstack/agent.json",
            "/etc/systemd/system/flowstack-agent.service", "/etc/systemd/system/flowstack-agent.timer",
            "/etc/systemd/system/flowstack-prune.service", "/etc/systemd/system/flowstack-prune.timer"} == paths
    firewall = apply_template(reference["bundle/usr/local/sbin/flowstack-firewall"].decode(), sample_values(config))
    # The firewall script's own "${VAR:-default}" shell syntax survives templatefile() unchanged.
    assert '"${FLOWSTACK_RULES_FILE:-/etc/iptables/rules.v4}"' in firewall
    livekit = reference["bundle/livekit.yaml"].decode()
    assert "SampleSecretForPreviewOnly" in apply_template(livekit, sample_values(config)) and "SampleSecretForPreviewOnly" not in livekit


def test_user_text_in_cloud_init_cannot_become_a_placeholder() -> None:
    data = yaml.safe_load((CONFIGS / "valid.yaml").read_text())
    data["socket"]["env"] = {"GREETING": "hi ${livekit_api_secret} %{ if x }"}
    config = parse_config(yaml.safe_dump(data))
    text = render_stack(config)["bundle/docker-compose.yml"].decode()
    compose = yaml.safe_load(apply_template(text, sample_values(config)))
    # Compose doubles "$" itself; after its own interpolation the app sees the text as written.
    assert compose["services"]["socket"]["environment"]["GREETING"] == "hi $${livekit_api_secret} %{ if x }"


def test_schema_groups_mirror_variables(reference: dict[str, bytes]) -> None:
    schema = yaml.safe_load(reference["schema.yaml"])
    assert schema["schemaVersion"] == "1.1.0"
    variables = {k.strip('"') for d in hcl2.loads(reference["variables.tf"].decode())["variable"] for k in d}
    grouped = [v for g in schema["variableGroups"] for v in g["variables"]]
    assert sorted(grouped) == sorted(variables) == sorted(schema["variables"])
    assert schema["variables"]["compartment_ocid"]["type"] == "oci:identity:compartment:id"
    assert schema["variables"]["ssh_public_key"]["type"] == "oci:core:ssh:publickey"
    assert schema["variables"]["availability_domain_name"]["type"] == "oci:identity:availabilitydomain:name"


def _condition_holds(condition: str, name: str, default: object) -> bool:
    """Evaluate the validation forms flowstack writes, for the variable's default value."""
    import re as _re

    for clause in condition.split(" && "):
        clause = clause.strip()
        m = _re.fullmatch(r'can\(regex\("((?:[^"\\]|\\.)*)", var\.(\w+)\)\)', clause)
        if m:
            pattern = m.group(1).encode().decode("unicode_escape")
            if not _re.search(pattern, str(default)):
                return False
            continue
        m = _re.fullmatch(r"var\.(\w+) (<=|>=|>|<) ([0-9.]+)", clause)
        if m:
            value, op, bound = float(default), m.group(2), float(m.group(3))
            if not {"<=": value <= bound, ">=": value >= bound, ">": value > bound, "<": value < bound}[op]:
                return False
            continue
        m = _re.fullmatch(r"length\(var\.(\w+)\) <= (\d+)", clause)
        if m:
            if len(str(default)) > int(m.group(2)):
                return False
            continue
        if clause.startswith(("can(cidrhost(", "!endswith(", "alltrue(")):
            continue  # forms checked elsewhere (their variables have no default, or tests cover them)
        raise AssertionError(f"{name}: unknown validation form {clause!r}: teach this test to evaluate it")
    return True


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"socket": {"git": {"url": "https://example.com/org/app.git", "ref": "v1.2.3", "path": "server"}}},
        {"instance": {"ocpus": 4, "memory_gbs": 24}},
        {"budget": {"enabled": True, "recipients": ["ops@example.com"]}, "traffic_alarm": {"enabled": True, "emails": ["a@example.com"]}},
        {"domains": {"turn_host": "turn.example.com"}, "livekit": {"turn": {"tls_port": 5349, "via_caddy": True}}},
    ],
    ids=["image", "git", "4-24", "alerts", "turn-tls"],
)
def test_every_default_passes_its_own_validation(extra: dict) -> None:
    """A default that fails its variable's validation makes the stack unplannable in Resource Manager."""
    data = yaml.safe_load((CONFIGS / "valid.yaml").read_text())
    for key, value in extra.items():
        data[key] = {**(data.get(key) or {}), **value} if isinstance(value, dict) else value
    if "git" in extra.get("socket", {}):
        data["socket"].pop("image")
    variables = pygohcl.loads(render_stack(parse_config(yaml.safe_dump(data)))["variables.tf"].decode())["variable"]
    checked = 0
    for name, body in variables.items():
        if "default" not in body:
            continue
        checks = body.get("validation") or []
        for check in checks if isinstance(checks, list) else [checks]:
            assert _condition_holds(check["condition"], name, body["default"]), (name, body["default"], check["condition"])
            checked += 1
    assert checked >= 5


def test_default_check_can_fail() -> None:
    assert not _condition_holds('can(regex("^[a-z]+$", var.x))', "x", "A;B")
    assert not _condition_holds("var.x <= 2", "x", 4)


def test_secret_env_values_are_taken_literally_by_compose() -> None:
    data = yaml.safe_load((CONFIGS / "valid.yaml").read_text())
    data["socket"]["secret_env"] = ["JWT_SECRET"]
    files = render_stack(parse_config(yaml.safe_dump(data)))
    main = files["main.tf"].decode()
    assert "\"JWT_SECRET='${var.socket_secret_jwt_secret}'\\n\"," in main  # single quotes: no $ interpolation by compose
    var = pygohcl.loads(files["variables.tf"].decode())["variable"]["socket_secret_jwt_secret"]
    assert var["sensitive"] is True and "default" not in var
    assert var["validation"]["condition"] == "!can(regex(\"['\\\\r\\\\n]\", var.socket_secret_jwt_secret))"
