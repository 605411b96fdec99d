"""Issue 25, step 1: the `scale:` section. One bad value -> one `Error:` line naming the field,
the value and what would be right; one node stays today's stack (the golden digests of
tests/build/test_golden.py pin that byte for byte, with no `scale:` key and with `nodes: 1`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config.load import parse_config
from generator.core.errors import ConfigError
from generator.emit.render import render_stack

CUSTOM = "domains: {socket_host: socket.example.com, livekit_host: livekit.example.com}\n"


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config("name: demo\n" + text, "c.yaml")
    return str(exc.value)


@pytest.mark.parametrize(("text", "words"), [
    ("scale: {nodes: 0}\n", ["scale.nodes", "got 0", "greater than or equal to 1"]),
    ("scale: {nodes: 13}\n", ["scale.nodes", "got 13", "less than or equal to 12"]),
    ("scale: {nodez: 2}\n", ["scale.nodez", 'did you mean "nodes"']),
    ("scale: {nodes: two}\n", ["scale.nodes", "whole number"]),
    ("scale: {nodes: true}\n", ["scale.nodes", "yes/no value"]),
    ("scale: {redis: {persistence: rdb}}\n", ["scale.redis.persistence", "one of 'aof' or 'off'"]),
    ("scale: {redis: {persistance: aof}}\n", ['did you mean "persistence"']),
    ("scale: {nodes: 2}\n", ["scale.nodes", "own host names", "mode: custom"]),
    (CUSTOM + "scale: {nodes: 3}\n", ["scale.nodes", "6 OCPUs", "Always Free", "always_free: false"]),
    (CUSTOM + "always_free: false\nscale: {nodes: 2, redis: {port: 7880}}\n", ["scale.redis.port", "got 7880"]),
])
def test_each_bad_value_is_one_error_line(text: str, words: list[str]) -> None:
    message = error_of(text)
    assert "\n" not in message
    for w in words:
        assert w in message, message


def test_a_fleet_within_the_allowance_or_paid_is_accepted() -> None:
    """The failing side of the Always Free check: the same fleet passes when it fits or is paid for."""
    assert parse_config("name: demo\n" + CUSTOM + "instance: {ocpus: 2, memory_gbs: 12}\nscale: {nodes: 2}\n").scale.nodes == 2
    assert parse_config("name: demo\n" + CUSTOM + "always_free: false\nscale: {nodes: 3}\n").scale.nodes == 3


def test_cli_says_error_once_and_exits_non_zero(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text("name: demo\nscale: {nodes: 0}\n")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code != 0
    assert sum(line.startswith("Error:") for line in result.output.splitlines()) == 1, result.output


def test_nodes_1_renders_the_same_bytes_as_no_scale_section() -> None:
    plain = render_stack(parse_config("name: demo\n"))
    one = render_stack(parse_config("name: demo\nscale: {nodes: 1, redis: {persistence: 'off'}}\n"))
    assert plain == one
