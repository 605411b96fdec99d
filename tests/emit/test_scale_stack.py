"""Issue 25, step 2: the N-node stack. Real Terraform plans and applies it through the provider
double (OCI replaced: the double answers with oracle/oci's schema; the NLB and quota types in
it are transcribed, tools/nlb_schema_entries.py). Each node's bundle fits the metadata limit;
nodes apply a day-2 change one slot after another.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from tfdouble_support import FLOWSTACK, generate, sample_variables

from generator.checks.fit import METADATA_LIMIT_BYTES, SSH_KEY_ALLOWANCE, check_rm_fit
from generator.checks.report import PASS
from generator.checks.stack import Stack
from generator.config.load import parse_config
from generator.derive.ports import policy
from generator.emit.render import render_stack

SCALED = """name: demo
always_free: false
domains: {socket_host: socket.example.com, livekit_host: livekit.example.com}
scale: {nodes: 3, quota: true}
"""
ONE = "name: demo\ndomains: {socket_host: socket.example.com, livekit_host: livekit.example.com}\n"


def files_of(text: str) -> dict[str, bytes]:
    return render_stack(parse_config(text))


def test_three_nodes_add_scale_tf_redis_and_the_node_to_node_rule() -> None:
    files = files_of(SCALED)
    lk = yaml.safe_load(files["bundle/livekit.yaml"])
    assert lk["redis"] == {"address": "server.public.demo.oraclevcn.com:6379", "password": "${redis_password}"}
    compose = yaml.safe_load(files["bundle/docker-compose.yml"])
    assert "/opt/flowstack/redis.env" in compose["services"]["socket"]["env_file"]
    assert compose["services"]["redis"]["network_mode"] == "host"
    # The password reaches Redis through a root-only file, never argv or a world-readable file.
    assert "REDIS_PASSWORD" not in " ".join(compose["services"]["redis"]["entrypoint"]).replace("$$REDIS_PASSWORD", "")
    manifest = {f["path"]: f for f in json.loads(files["bundle/manifest.json"])["files"]}
    assert manifest["/opt/flowstack/redis.env"]["mode"] == "0600"
    tf = files["scale.tf"].decode()
    for needle in ('policy             = "TWO_TUPLE"', "is_preserve_source = true", "count               = 2",
                   'resource "oci_network_load_balancer_listener" "https"', 'resource "oci_limits_quota" "a1"'):
        assert needle in tf, needle
    rules = [r for r in policy(parse_config(SCALED)) if r.low == 6379]
    assert [(r.protocol, r.source) for r in rules] == [("tcp", "10.0.1.0/24")]  # the subnet, never the internet


def test_one_node_has_none_of_it() -> None:
    files = files_of(ONE)
    assert "scale.tf" not in files and "redis" not in files["bundle/livekit.yaml"].decode()
    assert "redis" not in files["bundle/docker-compose.yml"].decode()
    assert all(r.low != 6379 for r in policy(parse_config(ONE)))


def test_each_nodes_bundle_fits_the_metadata_limit() -> None:
    """Every node carries node 1's bundle (only apply_at differs, 5 bytes), so node 1's fit is each node's."""
    result = check_rm_fit(Stack(files_of(SCALED)))
    assert result.status == PASS, result.detail
    used = int(result.detail.split("metadata ~")[1].split(" B")[0].replace(",", ""))
    assert used + len("03:15") <= METADATA_LIMIT_BYTES and used > SSH_KEY_ALLOWANCE


@pytest.mark.slow
def test_real_terraform_plans_and_applies_three_nodes_and_rolls_apply_times(tmp_path: Path, terraform_bin) -> None:  # type: ignore[no-untyped-def]
    from generator.tfdouble.runner import TerraformRun

    config = tmp_path / "demo.yaml"
    config.write_text(SCALED, encoding="utf-8")
    stack = generate(config, tmp_path / "stack")
    plan = subprocess.run([str(FLOWSTACK), "plan", str(config)], capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr
    created = {line.split()[1] for line in plan.stdout.splitlines()[:-1]}
    expected = {"oci_core_instance.server", "oci_core_instance.node[0]", "oci_core_instance.node[1]",
                "oci_core_public_ip.node[0]", "oci_core_public_ip.node[1]", "oci_core_public_ip.nlb", "random_password.redis",
                "oci_network_load_balancer_network_load_balancer.main", "oci_limits_quota.a1"}
    expected |= {f"oci_network_load_balancer_{kind}.{name}" for kind in ("backend_set", "listener") for name in ("https", "http")}
    expected |= {f"oci_network_load_balancer_backend.{name}[{i}]" for name in ("https", "http") for i in range(3)}
    assert expected <= created, sorted(expected - created)
    with TerraformRun(stack, sample_variables(stack, server_apply_at="23:50")) as run:
        assert run.apply().ok
        state = json.loads(run.run(["show", "-json"]).stdout)
    resources = {r["address"]: r["values"] for r in state["values"]["root_module"]["resources"]}

    def apply_at(address: str) -> str:
        return str(json.loads(gzip.decompress(base64.b64decode(resources[address]["metadata"]["flowstack_bundle"])))["apply_at"])

    # Node 1 at the quiet hour, then one drain+restart slot (15 min) per node, across midnight.
    assert [apply_at(a) for a in ("oci_core_instance.server", "oci_core_instance.node[0]", "oci_core_instance.node[1]")] == ["23:50", "00:05", "00:20"]
    backends = {resources[f"oci_network_load_balancer_backend.https[{i}]"]["target_id"] for i in range(3)}
    assert backends == {resources[a]["id"] for a in ("oci_core_instance.server", "oci_core_instance.node[0]", "oci_core_instance.node[1]")}


@pytest.mark.slow
def test_scaled_server_files_pass_shellcheck_compose_and_cloud_init_schema(tmp_path: Path) -> None:
    """What a node receives (preview --sample): the bootstrap with the NFS step is valid bash
    (ShellCheck), the compose file with the Redis service is a valid compose file, and the
    cloud-config passes Debian's cloud-init schema. Replaced: nothing (real tools)."""
    from test_server_files import cloud_init_schema, compose_validate, shellcheck

    from generator.build.preview import preview_files

    files = preview_files(parse_config(SCALED), sample=True)
    boot = tmp_path / "bootstrap"
    boot.write_bytes(files["files/usr/local/sbin/flowstack-bootstrap"])
    text = boot.read_text()
    assert "nfs-kernel-server" in text and "RequiresMountsFor" in text and "flowstack-wait-dns" not in text
    result = shellcheck(boot, "bash")
    assert result.returncode == 0, result.stdout
    compose_validate(files["files/opt/flowstack/docker-compose.yml"].decode())
    cloud = tmp_path / "cloud-init.yaml"
    cloud.write_bytes(files["cloud-init.yaml"])
    result = cloud_init_schema(cloud)
    assert result.returncode == 0 and "Valid cloud-config" in result.stdout, result.stdout + result.stderr


LARGEST_SCALED = """name: largest
always_free: false
domains: {socket_host: s.example.com, livekit_host: l.example.com, turn_host: t.example.com}
livekit:
  turn: {tls_port: 5349, via_caddy: true}
socket:
  env: {NODE_ENV: production, LOG_LEVEL: info}
  secret_env: [API_KEY, DB_URL, JWT_SECRET, SESSION_SECRET, SMTP_PASSWORD, S3_SECRET, SENTRY_TOKEN, OTHER_TOKEN]
scale: {nodes: 3, quota: true}
"""


def test_the_largest_scaled_variant_still_fits() -> None:
    """The sample app with the adapter overlay, caddy.json, eight secrets: still under 32,000 B per node."""
    result = check_rm_fit(Stack(files_of(LARGEST_SCALED)))
    assert result.status == PASS, result.detail
