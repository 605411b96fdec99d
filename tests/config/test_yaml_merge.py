"""Issue 23.8: a YAML merge key (``<<``) is refused with one `Error:` line naming the field.

``instance: {<<: {ocpus: 4}, ocpus: 2}`` was accepted silently (the mapping's own key wins
over the merged one, so the 4 the reader sees is not what is deployed). The decision is
"refused" (docs/hostile-input.md); beside each refusal the nearest accepted config: the same
keys written out, and an alias of a whole mapping (``instance: *base``), which hides nothing.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config.load import parse_config
from generator.core.errors import ConfigError

CASES = {
    "flow": ("name: abc\ninstance: {<<: {ocpus: 4}, ocpus: 2}\n", "instance", 2,
             "name: abc\ninstance: {ocpus: 2}\n"),
    "alias": ("base: &b {ocpus: 2}\nname: abc\ninstance:\n  <<: *b\n", "instance", 4,
              "name: abc\ninstance: &b {ocpus: 2}\n"),
    "list-of-aliases": ("name: abc\ninstance:\n  <<: [{ocpus: 2}, {memory_gbs: 12}]\n", "instance", 3,
                        "name: abc\ninstance:\n  ocpus: 2\n  memory_gbs: 12\n"),
    "nested": ("name: abc\nlivekit:\n  turn:\n    <<: {tls_port: 5349, via_caddy: true}\n", "livekit.turn", 4,
               "name: abc\nlivekit:\n  turn:\n    tls_port: 5349\n    via_caddy: true\n"),
    "top-level": ("<<: {name: abc}\n", "<<", 1, "name: abc\n"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_merge_key_is_refused_naming_the_field(case: str) -> None:
    text, field, line, _ = CASES[case]
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    msg = str(info.value)
    assert msg.startswith(f"c.yaml:{line}: {field}: a YAML merge key (<<) is not accepted") and "\n" not in msg, msg


@pytest.mark.parametrize("case", sorted(CASES))
def test_nearest_accepted_keys_written_out(case: str) -> None:
    assert parse_config(CASES[case][3], "c.yaml").name == "abc"


def test_alias_of_a_whole_mapping_is_accepted() -> None:
    config = parse_config("name: abc\nlivekit:\n  turn: &t {tls_port: 5349, via_caddy: true}\n", "c.yaml")
    assert config.livekit.turn.tls_port == 5349


def test_quoted_merge_spelling_is_a_plain_unknown_key() -> None:
    """'<<' in quotes is an ordinary key (no merge): the schema refuses it as unknown."""
    with pytest.raises(ConfigError) as info:
        parse_config("name: abc\ninstance: {'<<': {ocpus: 4}}\n", "c.yaml")
    assert "merge key" not in str(info.value)


def test_cli_prints_one_error_line(tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CASES["flow"][0])
    r = CliRunner().invoke(cli, ["validate", str(cfg)])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and r.output.startswith("Error: ") and "instance" in r.output, r.output
