"""YAML in and out: one dumper for every file flowstack writes, one loader for reading back.

>>> dump_yaml({"a": "one\\ntwo\\n"})
'a: |\n  one\n  two\n'
"""

from __future__ import annotations

from typing import Any

import yaml


# libyaml's emitter when PyYAML was built with it (the goldens prove the bytes are the same).
class _BlockDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes multi-line strings as literal blocks, so embedded files stay readable."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_BlockDumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=4096, default_flow_style=False)



# libyaml's loader when PyYAML was built with it: the same results, several times faster.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a safe loader
