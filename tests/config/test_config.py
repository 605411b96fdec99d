"""Config loading: one fixture file per failure mode, each with its exact one-line error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config.load import load_config, parse_config
from generator.core.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"

CASES = {
    # Issue 16: domains and socket have defaults now (sslip.io names, the sample app); name has none.
    "missing_field": "missing_field.yaml:1: name: required field is missing (Stack name: lower case letters, digits, dashes (used for resource names and the zip)); `flowstack init` writes a complete example",
    "wrong_type": "wrong_type.yaml:8: instance.ocpus: wrong type (got 'two'); expected a number",
    "unknown_key": 'unknown_key.yaml:9: livekit.rtc.tcp_prot: unknown key (did you mean "tcp_port"?); expected one of tcp_port, port_range_start, port_range_end, udp_port, use_external_ip in livekit.rtc',
    "port_out_of_range": "port_out_of_range.yaml:9: livekit.rtc.tcp_port: port out of range (got 70000); expected a port from 1 to 65535",
    "port_twice": "port_twice.yaml:9: livekit.rtc.tcp_port: port 3001/tcp is used twice: by livekit.rtc.tcp_port and by socket.port (got 3001); expected a port no other service of the stack uses",
    "bad_cidr": "bad_cidr.yaml:8: network.vcn_cidr: not a valid IPv4 CIDR (got '10.0.0.0/33'); expected an IPv4 CIDR such as 10.0.0.0/16",
    "bad_hostname": "bad_hostname.yaml:3: domains.socket_host: must be a DNS host name such as space-socket.example.com (lower case, letters, digits, dashes, dots) (got 'socket_example.com')",
    "non_flex_shape": "non_flex_shape.yaml:8: instance.shape: only flexible shapes (ending in .Flex) take shape_config; use VM.Standard.A1.Flex for Always Free (got 'VM.Standard.A1')",
    "empty": "empty.yaml: the config file is empty; expected a mapping with at least name, domains and socket (see `flowstack init`)",
    "yaml_syntax": "yaml_syntax.yaml:10: YAML syntax error: expected ',' or ']', but got '<stream end>'",
    "duplicate_key": "duplicate_key.yaml:9: YAML syntax error: duplicate key 'instance' (first on line 2); the second would silently win",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_one_line_error_and_nothing_written(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(CONFIGS / f"{case}.yaml", tmp_path / f"{case}.yaml")
    monkeypatch.chdir(tmp_path)
    for command in (["zip", f"{case}.yaml"], ["generate", f"{case}.yaml"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert result.output == f"Error: {CASES[case]}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{case}.yaml"]  # no dist/, no build/


def test_unquoted_version_says_to_quote_it() -> None:
    text = (CONFIGS / "valid.yaml").read_text() + "instance:\n  image:\n    version: 22.04\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert str(info.value) == "c.yaml:9: instance.image.version: value not allowed (write it in quotes: \"22.04\") (got 22.04); expected one of '22.04' or '24.04'"


def test_config_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["zip", "stacks/nope.yaml"])
    assert result.exit_code == 2
    assert result.output == "Error: stacks/nope.yaml: config file not found; expected a path to a stacks/<name>.yaml file\n"
    assert list(tmp_path.iterdir()) == []


def test_existing_zip_is_kept_when_config_is_bad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(CONFIGS / "valid.yaml", "demo.yaml")
    assert CliRunner().invoke(cli, ["zip", "demo.yaml", "-o", "out.zip"]).exit_code == 0
    before = Path("out.zip").read_bytes()
    shutil.copy(CONFIGS / "port_twice.yaml", "demo.yaml")
    assert CliRunner().invoke(cli, ["zip", "demo.yaml", "-o", "out.zip"]).exit_code == 2
    assert Path("out.zip").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.yaml", "out.zip"]


def test_error_is_a_value_error_with_fields() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "unknown_key.yaml")
    assert isinstance(info.value, ValueError)
    assert info.value.field == "livekit.rtc.tcp_prot"
    assert info.value.line == 9


def test_reference_config_defaults(root: Path) -> None:
    c = load_config(root / "stacks" / "flowspace.yaml")
    assert c.region == "ap-chuncheon-1"
    assert c.instance.shape == "VM.Standard.A1.Flex"
    # Fits both Always Free readings (4/24 verified, 2/12 reported): facts section 4.
    assert (c.instance.ocpus, c.instance.memory_gbs) == (2, 12)
    assert c.livekit.turn.enabled and c.livekit.turn.udp_port == 3478
    assert (c.livekit.rtc.port_range_start, c.livekit.rtc.port_range_end) == (50000, 60000)


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        # Issue 13 item 3: any source wider than a /8 is refused, not only /0.
        ("network:\n  ssh_source_cidr: 0.0.0.0/0\n", "ssh_source_cidr 0.0.0.0/0 opens SSH to (nearly) the whole internet"),
        ("network:\n  ssh_source_cidr: 0.0.0.0/1\n", "ssh_source_cidr 0.0.0.0/1 opens SSH to (nearly) the whole internet"),
        ("network:\n  ssh_source_cidr: 0.0.0.0/7\n", "at widest a /8"),
        ("socket:\n  image: a/b:1\n  secret_env: [API_KEY, api_key]\n", "secret_env names API_KEY and api_key both become the Terraform variable socket_secret_api_key"),
        ("socket:\n  image: a/b:1\n  secret_env: [DB_URL, Db_Url]\n", "both become the Terraform variable socket_secret_db_url"),
        ("socket:\n  image: a/b:1\n  secret_env: [TOKEN, TOKEN]\n", "secret_env names TOKEN and TOKEN both become"),
        ("network:\n  subnet_cidr: 192.168.0.0/24\n", "is not inside vcn_cidr"),
        ("livekit:\n  turn:\n    udp_port: null\n", "invalid TURN ports"),
        ("livekit:\n  image: livekit/livekit-server:latest\n", "pin the image to a version"),
        ("livekit:\n  turn:\n    tls_port: 5349\n    via_caddy: true\n", "needs domains.turn_host"),
        # Issue 10 item 3: direct TURN/TLS is refused (LiveKit advertises :443, which is Caddy's).
        ("livekit:\n  turn:\n    tls_port: 5349\n", "livekit.turn: tls_port 5349 without via_caddy cannot work"),
        # Issue 10 item 4: an origin certificate cannot serve TURN/TLS.
        ("tls:\n  mode: cloudflare_origin\nlivekit:\n  turn:\n    tls_port: 5349\n    via_caddy: true\n", "tls.mode cloudflare_origin cannot serve TURN/TLS"),
        # Issue 10 item 8: the server's time zone is an IANA name, with a suggestion.
        ("instance:\n  timezone: Asia/Seol\n", "'Asia/Seol' is not an IANA time zone; did you mean 'Asia/Seoul'?"),
        ("extra_ports:\n  - {protocol: tcp, port: 9000, reason: \"a\\nb\"}\n", "must be a single line"),
        ("socket:\n  image: x:1\n  git: {url: https://example.com/a.git}\n", "give at most one of socket.image or socket.git"),
        ("instance:\n  shape: VM.Standard.E4.Flexx\n", "only flexible shapes"),
        ("socket:\n  git: {url: \"https://example.com/a.git;touch${IFS}/tmp/x;$(id)\"}\n", "must be an https:// git URL"),
        # An ssh URL with the deploy-key route switched off (issue 22 item 1b: on by default for ssh URLs).
        ("socket:\n  git: {url: \"git@github.com:you/app.git\", deploy_key: false}\n", "needs the deploy-key route"),
        ("socket:\n  git: {url: \"git@github.com:-oProxyCommand=id\"}\n", "must be an https:// git URL or an ssh one"),
        ("socket:\n  git: {url: \"git@git.example.com:you/app.git\"}\n", "has no pinned host key for git.example.com"),
        ("socket:\n  image: \"a/b:1; rm -rf /\"\n", "must be an image reference"),
        ("socket:\n  image: a/b:1\n  env: {PORT: \"9999\"}\n", "set socket.port instead of env.PORT"),
        ("livekit:\n  rtc:\n    port_range_start: 30010\n    port_range_end: 30020\n",
         "ports 30000-40000/udp of livekit.turn.relay_range_start overlap ports 30010-30020 of livekit.rtc.port_range_start"),
        ("livekit:\n  turn:\n    relay_range_start: 50000\n    relay_range_end: 50100\n",
         "ports 50000-50100/udp of livekit.turn.relay_range_start overlap ports 50000-60000 of livekit.rtc.port_range_start"),
    ],
)
def test_cross_field_rules(snippet: str, message: str) -> None:
    base = (CONFIGS / "valid.yaml").read_text()
    text = base.replace("socket:\n  image: ghcr.io/example/socket:1.0.0\n", "") if snippet.startswith("socket:") else base
    with pytest.raises(ConfigError) as info:
        parse_config(text + snippet, "c.yaml")
    assert message in str(info.value)


def test_init_writes_a_starter_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "stacks" / "myspace.yaml"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    # Issue 16: the editor's schema line first; domains and socket are opt-in (sslip.io, sample app).
    assert text.startswith("# yaml-language-server: $schema=flowstack.schema.json\n# flowstack stack config.")
    assert "#   livekit_host: livekit.example.com" in text and "# image: ghcr.io/you/socket-server:1.0.0" in text
    assert load_config(target).name == "myspace"
    again = CliRunner().invoke(cli, ["init", str(target)])
    assert again.exit_code == 1
    assert again.output == f"Error: {target} already exists; pass --force to overwrite it\n"


def test_starter_optional_sections_are_valid_when_uncommented() -> None:
    from generator.build.starter import COMMENTED, starter_config

    text = starter_config("demo")
    for example in COMMENTED.values():
        first = example.splitlines()[0]
        assert any(line.strip() == f"# {first}" for line in text.splitlines()), first
    # Uncomment every example: the lines right after an "(optional)" description, as many as
    # the example has; socket.git replaces socket.image, since a config gives one or the other.
    sizes = {ex.splitlines()[0]: len(ex.splitlines()) for ex in COMMENTED.values()}
    out, take = [], 0
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if take == 0 and stripped.startswith("# ") and stripped[2:] in sizes and out and out[-1].endswith("(optional)"):
            take = sizes[stripped[2:]]
        if take:
            out.append(indent + stripped[2:])
            take -= 1
        else:
            out.append(line)
    enabled = "\n".join(ln for ln in out if not ln.lstrip().startswith("image: ghcr.io/you/socket-server")) + "\n"
    config = parse_config(enabled, "starter")
    assert config.budget.enabled and config.traffic_alarm.enabled and config.socket.git is not None
    assert str(config.network.ssh_source_cidr) == "203.0.113.7/32" and config.tags == {"team": "realtime"}
