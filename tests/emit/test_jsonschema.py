"""Issue 16: `flowstack schema` is the loader's model as JSON Schema, checked with a real
validator (PyPI `jsonschema`, Draft 2020-12).

Agreement: for every fixture config, the reference config, the starter and a set of bad
configs, "the loader accepts it" equals "the schema accepts it". The only cases allowed
to differ are the ones listed (each names its entry of `NOT_EXPRESSIBLE`, rules JSON
Schema cannot state); the test fails if such a case starts to agree, so the list cannot
rot. A case per added rule shows the schema rejecting what the loader rejects.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from generator.build.starter import starter_config
from generator.cli import cli
from generator.config.load import parse_config
from generator.core.errors import ConfigError
from generator.emit.jsonschema import NOT_EXPRESSIBLE, config_json_schema

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"
VALIDATOR = jsonschema.Draft202012Validator(config_json_schema())

# Fixture or case -> the NOT_EXPRESSIBLE entry that explains why only the loader refuses it.
LOADER_ONLY = {
    "port_twice.yaml": "ports: two services of the stack on one port",
    "duplicate_key.yaml": "YAML duplicate keys; quoted numbers (the loader reads \"3001\" as 3001)",
    "subnet outside vcn": "network.subnet_cidr inside network.vcn_cidr",
    "host bits set": "IPv4 networks with host bits set (10.0.0.1/16)",
    "same host twice": "domains: the host names all differ",
    "relay range reversed": "livekit.rtc / livekit.turn / extra_ports: range start <= end",
    "env and secret_env": "socket: a name in both env and secret_env",
    "marker text": "the reserved text @@FLOWSTACK: in any value",
    "scale over the free fleet": "scale: a fleet over the Always Free allowance (nodes x instance size, summed), and scale.redis.port on another service's port",
}

BASE = "name: demo\n"
# (case, extra YAML appended to BASE); every one is refused by the loader.
BAD = {
    "auto with a host": "domains: {mode: auto, socket_host: a.example.com}\n",
    "custom without livekit_host": "domains: {socket_host: a.example.com}\n",
    "bad host": "domains: {socket_host: A_B.example.com, livekit_host: b.example.com}\n",
    "image and git": "socket: {image: 'x:1', git: {url: 'https://example.com/a.git'}}\n",
    "git url with shell": "socket: {git: {url: 'https://example.com/a.git;id'}}\n",
    "git ref with ..": "socket: {git: {url: 'https://example.com/a.git', ref: '../x'}}\n",
    "PORT in env": "socket: {env: {PORT: '1'}}\n",
    "PORT secret": "socket: {secret_env: [PORT]}\n",
    "bad env name": "socket: {env: {'1X': a}}\n",
    "health path": "socket: {health_path: health}\n",
    "ssh open": "network: {ssh_source_cidr: 0.0.0.0/0}\n",
    "not flex": "instance: {shape: VM.Standard.A1}\n",
    "too many ocpus": "instance: {ocpus: 77}\n",
    "port 0": "livekit: {port: 0}\n",
    "latest image": "livekit: {image: 'livekit/livekit-server:latest'}\n",
    "unpinned image": "livekit: {image: livekit/livekit-server}\n",
    "api key": "livekit: {api_key: 'a-b'}\n",
    "half a range": "livekit: {rtc: {port_range_start: null}}\n",
    "turn without ports": "livekit: {turn: {udp_port: null}}\n",
    "via caddy without tls": "livekit: {turn: {via_caddy: true}}\n",
    "turn tls without turn_host": "domains: {socket_host: a.example.com, livekit_host: b.example.com}\nlivekit: {turn: {tls_port: 5349, via_caddy: true}}\n",
    "bad region": "region: Chuncheon\n",
    "bad name": "name: X\n",
    "reason two lines": "extra_ports: [{protocol: tcp, port: 9000, reason: \"a\\nbcd\"}]\n",
    "threshold 0": "budget: {thresholds: [0]}\n",
    "no thresholds": "budget: {thresholds: []}\n",
    "bad recipient": "budget: {recipients: [nobody]}\n",
    "tls email": "tls: {email: nobody}\n",
    "cloudflare without domains": "tls: {mode: cloudflare_origin}\n",
    "cloudflare with auto": "domains: {mode: auto}\ntls: {mode: cloudflare_origin}\n",
    "unknown key": "colour: red\n",
    "subnet outside vcn": "network: {subnet_cidr: 192.168.0.0/24}\n",
    "host bits set": "network: {vcn_cidr: 10.0.0.1/16}\n",
    "same host twice": "domains: {socket_host: a.example.com, livekit_host: a.example.com}\n",
    "relay range reversed": "livekit: {turn: {relay_range_start: 40000, relay_range_end: 30000}}\n",
    "env and secret_env": "socket: {env: {A: b}, secret_env: [A]}\n",
    "marker text": "description: '@@FLOWSTACK:x@@'\n",
    "scale with sslip.io names": "scale: {nodes: 2}\n",
    "scale of no nodes": "scale: {nodes: 0}\n",
    "scale typo": "scale: {node: 2}\n",
    "scale over the free fleet": "domains: {socket_host: a.example.com, livekit_host: b.example.com}\nscale: {nodes: 3}\n",
}
GOOD = {
    "nothing but a name": "",
    "auto explicitly": "domains: {mode: auto}\n",
    "the schema's own default for domains": "domains: {mode: auto, socket_host: null, livekit_host: null, turn_host: null}\n",
    "auto with turn tls": "livekit: {turn: {tls_port: 5349, via_caddy: true}}\n",
    "custom": "domains: {socket_host: a.example.com, livekit_host: b.example.com}\n",
    "image": "socket: {image: 'ghcr.io/you/app:1.0'}\n",
    "custom cloudflare": "domains: {socket_host: a.example.com, livekit_host: b.example.com}\ntls: {mode: cloudflare_origin}\n",
    "no turn": "livekit: {turn: {enabled: false, udp_port: null}}\n",
    "one node": "scale: {nodes: 1}\n",
    "paid fleet": "always_free: false\ndomains: {socket_host: a.example.com, livekit_host: b.example.com}\nscale: {nodes: 3, redis: {persistence: 'off'}}\n",
    "free fleet": "domains: {socket_host: a.example.com, livekit_host: b.example.com}\ninstance: {ocpus: 1, memory_gbs: 6}\nscale: {nodes: 2}\n",
}


def loader_ok(text: str) -> bool:
    try:
        parse_config(text, "c.yaml")
    except ConfigError:
        return False
    return True


def schema_ok(text: str) -> bool:
    data = yaml.safe_load(text)
    return data is not None and VALIDATOR.is_valid(data)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(config_json_schema())


def test_every_exception_is_documented() -> None:
    assert set(LOADER_ONLY.values()) <= set(NOT_EXPRESSIBLE)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")) + [ROOT / "stacks" / "flowspace.yaml"], ids=lambda p: p.name)
def test_fixtures_agree(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        assert not loader_ok(text)  # not YAML: nothing for a schema to judge, and the loader refuses it
        return
    if path.name in ("valid.yaml", "flowspace.yaml"):
        VALIDATOR.validate(data)  # raises with the reason if the schema refuses a good config
    agree = loader_ok(text) == schema_ok(text)
    assert agree != (path.name in LOADER_ONLY), f"loader {loader_ok(text)}, schema {schema_ok(text)}"


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configs_agree(case: str) -> None:
    text = BASE + BAD[case] if not BAD[case].startswith("name:") else BAD[case]
    assert not loader_ok(text), "the case must be a bad config"
    if case in LOADER_ONLY:
        assert schema_ok(text), "this rule is now in the schema: drop it from LOADER_ONLY"
    else:
        assert not schema_ok(text), "the schema accepts a config the loader refuses"


@pytest.mark.parametrize("case", sorted(GOOD))
def test_good_configs_agree(case: str) -> None:
    text = BASE + GOOD[case]
    assert loader_ok(text) and schema_ok(text)


def test_starter_validates_against_the_schema_it_points_to(tmp_path: Path) -> None:
    target = tmp_path / "stacks" / "mine.yaml"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    first = target.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=flowstack.schema.json"
    schema = json.loads((target.parent / "flowstack.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(target.read_text()))
    assert schema_ok(starter_config("mine"))


def test_schema_command_prints_descriptions_and_defaults() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == json.loads(json.dumps(config_json_schema(), sort_keys=True))
    domains = schema["$defs"]["Domains"]["properties"]
    assert domains["mode"]["default"] == "custom" and "sslip.io" in domains["mode"]["description"]
    assert schema["properties"]["domains"]["default"]["mode"] == "auto"
    assert schema["$defs"]["Budget"]["properties"]["thresholds"]["default"] == [80.0, 100.0]
    assert schema["$defs"]["LiveKit"]["properties"]["port"]["maximum"] == 65535


def test_init_refuses_to_overwrite_a_foreign_schema_file(tmp_path: Path) -> None:
    (tmp_path / "flowstack.schema.json").write_text("{}\n")
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "mine.yaml")])
    assert result.exit_code != 0 and "was not written by flowstack" in result.output
    assert (tmp_path / "flowstack.schema.json").read_text() == "{}\n" and not (tmp_path / "mine.yaml").exists()


def test_the_one_place_the_schema_is_stricter_than_the_loader() -> None:
    """YAML's quoted number: the loader (pydantic, lax) reads "3001" as the port 3001; the
    schema, strictly typed, asks for a number, which is what editors should suggest."""
    text = BASE + "socket: {port: '3001'}\n"
    assert loader_ok(text) and not schema_ok(text)
    assert "quoted numbers" in " ".join(NOT_EXPRESSIBLE)


def test_every_top_level_default_is_valid_for_both() -> None:
    """A config written out of the schema's own defaults (what an editor inserts) is accepted
    by the schema and the loader alike."""
    props = config_json_schema()["properties"]
    data = {"name": "demo", **{k: p["default"] for k, p in props.items() if "default" in p}}
    assert set(data) == set(props)  # every field but name has a default, and the schema shows it
    VALIDATOR.validate(data)
    assert loader_ok(yaml.safe_dump(data))
