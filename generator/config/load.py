"""Loading the stack config: one YAML file -> a validated `StackConfig`.

`load_config` is the only way in, and it turns every failure (missing file, YAML syntax,
type, range, cross-field rule, two services on one port) into one `ConfigError` that names
the file, line, field, value and what would be right. It sits above the port policy
(`ports`) because refusing a port clash needs to know what LiveKit will listen on.

>>> parse_config("name: demo").name  # doctest: +SKIP
'demo'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from generator.config.inputguard import findings
from generator.config.schema import StackConfig
from generator.core.errors import ConfigError, ConfigNotFoundError, did_you_mean
from generator.core.yamlguard import MAX_CHARS, check_bounded, compose_fast, construct
from generator.derive.ports import LiveKitSettingsError, PortRule, collision, config_ports
from generator.scale.guard import scale_findings


def load_config(path: str | Path) -> StackConfig:
    """Read and validate a stack config, raising `ConfigError` on anything wrong."""
    p = Path(path)
    shown = str(path)
    try:
        if p.exists() and not p.is_dir() and not p.is_file():
            raise ConfigError(shown, "is not a regular file (a device or a pipe)", expected="a stacks/<name>.yaml file")
        with p.open("rb") as f:
            raw = f.read(MAX_CHARS * 4 + 1)  # bounded: UTF-8 is at most 4 bytes a character
        if len(raw) > MAX_CHARS * 4:
            raise ConfigError(shown, f"is larger than {MAX_CHARS * 4:,} bytes: not a config (a config is a few kB)")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigNotFoundError(shown) from None
    except IsADirectoryError:
        raise ConfigError(shown, "is a directory, not a config file", expected="a stacks/<name>.yaml file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(shown, f"is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(shown, f"cannot be read ({exc.strerror or exc})") from None
    return parse_config(text, shown)


def parse_config(text: str, source: str = "<config>") -> StackConfig:
    """Validate config text; ``source`` names it in error messages."""
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ConfigError(source, "the config file is empty", expected="a mapping with at least name, domains and socket (see `flowstack init`)")
    check_bounded(text, source)  # before anything walks the tree: alias bombs, deep nesting
    _refuse_hidden_line_breaks(text, source)
    try:
        node = compose_fast(text)  # one parse (libyaml when it can), data built from its nodes
        _refuse_merge_keys(node, source, ())
        _refuse_duplicate_keys(node)
        data = construct(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(source, f"YAML syntax error: {exc.problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, f"YAML error: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(source, "the top level must be a mapping of keys", value=type(data).__name__, expected="key: value lines")
    try:
        config = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(exc, source, node) from None
    rules = _check_ports(config, source, node)
    for f in findings(config, rule_count=len(rules)):  # OCI limits, credentials, names ACME cannot serve (generator/config/inputguard.py)
        raise ConfigError(source, f.problem, field=field_path(f.loc), value=f.value, expected=f.expected, line=_line_of(node, f.loc))
    for g in scale_findings(config):  # several nodes: own names, the Always Free fleet (generator/scale/guard.py)
        raise ConfigError(source, g.problem, field=field_path(g.loc), value=g.value, expected=g.expected, line=_line_of(node, g.loc))
    return config


# YAML reads these as line breaks, so text holding them raw would not arrive as written.
_HIDDEN_BREAKS = {"\x85": "NEL", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}
_HIDDEN_BREAK = re.compile("[\x85\u2028\u2029]")


def _refuse_hidden_line_breaks(text: str, source: str) -> None:
    found = _HIDDEN_BREAK.search(text)  # a regex scan: a per-character loop took 0.25 s on 800 kB
    if found is not None:
        at = found.start()
        name = _HIDDEN_BREAKS[text[at]]
        raise ConfigError(source, f"the file holds a raw {name} character, which YAML reads as a line break", line=text.count("\n", 0, at) + 1,
                          expected=f"a plain line break, or the escape \\u{ord(text[at]):04x} inside a double-quoted string")


def _check_ports(config: StackConfig, source: str, node: yaml.Node | None) -> list[PortRule]:
    """Two services on one port cannot both start: refuse the config before rendering. Returns the
    port policy (derived with the listeners, once), whose rule count OCI limits."""
    try:
        rules, heard = config_ports(config)
    except LiveKitSettingsError as exc:
        raise ConfigError(source, str(exc), field="livekit") from None
    clash = collision(heard)
    if clash is None:
        return rules
    first, second = clash
    loc = tuple(int(p) if p.isdigit() else p for p in second.owner.replace("[", ".").replace("]", "").split("."))

    def span(x: Any) -> str:
        return str(x.low) if x.low == x.high else f"{x.low}-{x.high}"

    if first.low == first.high and second.low == second.high:
        problem = f"port {second.low}/{second.protocol} is used twice: by {second.owner} and by {first.owner}"
    else:
        problem = f"ports {span(second)}/{second.protocol} of {second.owner} overlap ports {span(first)} of {first.owner}"
    raise ConfigError(
        source,
        problem,
        field=second.owner,
        value=second.low if second.low == second.high else f"{second.low}-{second.high}",
        expected="a port no other service of the stack uses",
        line=_line_of(node, loc) if "." in second.owner else None,
    )


_MERGE = "tag:yaml.org,2002:merge"


def _refuse_merge_keys(node: yaml.Node | None, source: str, loc: tuple[Any, ...]) -> None:
    """A merge key (``<<: *base``) silently lets the mapping's own keys win over the merged ones
    (``{<<: {ocpus: 4}, ocpus: 2}`` is 2): refused like a duplicate key, naming the field.
    Plain anchors and aliases (``instance: *base``) stay accepted."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.tag == _MERGE:
                where = field_path(loc) if loc else None
                under = f"under {where}" if where else "at the top level"
                raise ConfigError(source, "a YAML merge key (<<) is not accepted: it hides which value wins", field=where or "<<",
                                  expected=f"the keys written out {under} (an alias of a whole mapping, such as instance: *name, is fine)",
                                  line=key.start_mark.line + 1)
            _refuse_merge_keys(value, source, (*loc, str(key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_merge_keys(item, source, (*loc, i))


def _refuse_duplicate_keys(node: yaml.Node | None) -> None:
    """YAML lets a later key silently replace an earlier one; in a config that hides mistakes."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {name!r} (first on line {seen[name]}); the second would silently win",
                    problem_mark=key.start_mark,
                )
            seen[name] = key.start_mark.line + 1
            _refuse_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item)


def field_path(loc: tuple[Any, ...]) -> str:
    """``a.b.0.c`` for an error's location; a key that is not plain text (a tag key with a line
    break, spaces or dots) is shown quoted, so the error stays one readable line.

    Example: ``field_path(("tags", "a\\nb"))`` -> ``"tags.'a\\nb'"``.
    """
    return ".".join(str(p) if isinstance(p, int) or (str(p).isprintable() and str(p).strip() == str(p) and str(p) and "." not in str(p)) else repr(str(p)) for p in loc)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class whose fields are valid keys at ``loc`` (for "did you mean")."""
    model: Any = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return None
        ann = field.annotation
        model = _unwrap(ann)
        if model is None:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(ann: Any) -> Any:
    """Find the BaseModel inside ``X | None`` or ``list[X]``."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the YAML node at ``loc``; the nearest parent's line if the key is absent."""
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == part:
                    nxt = k if part == loc[-1] else v
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "list_type": "a list",
    "ip_v4_network": "an IPv4 CIDR such as 10.0.0.0/16",
    "ip_v4_address": "an IPv4 CIDR such as 10.0.0.0/16",
}


def _to_config_error(exc: ValidationError, source: str, node: yaml.Node | None) -> ConfigError:
    errors = exc.errors(include_url=False)
    # A misspelt key also makes the right one "missing": report the misspelling, with did-you-mean.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(p for p in err["loc"])
    etype = err["type"]
    # Errors from a model_validator carry the model's own loc; field errors carry the field's.
    field = field_path(loc) or None
    line = _line_of(node, loc)
    value = err.get("input")
    if etype == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(loc[:-1])
        choices = list(model.model_fields) if model else []
        hint = did_you_mean(key, choices)
        parent = field_path(loc[:-1]) or "the top level"
        return ConfigError(
            source,
            f"unknown key{hint}",
            field=field,
            expected=f"one of {', '.join(choices)} in {parent}" if choices else None,
            line=line,
        )
    if etype == "missing":
        desc = _describe(loc)
        problem = f"required field is missing ({desc.rstrip('.')})" if desc else "required field is missing"
        return ConfigError(source, problem + "; `flowstack init` writes a complete example", field=field, line=line)
    if etype == "literal_error":
        expected = err.get("ctx", {}).get("expected")
        allowed = [s.strip("' ") for s in str(expected).replace(" or ", ",").split(",")] if expected else []
        hint = did_you_mean(str(value), allowed) if expected else ""
        if not isinstance(value, str) and str(value) in allowed:
            # YAML read 22.04 as a number; the allowed value is the text "22.04".
            hint = f' (write it in quotes: "{value}")'
        return ConfigError(source, f"value not allowed{hint}", field=field, value=value, expected=f"one of {expected}", line=line)
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    expected = _EXPECTED.get(etype)
    if expected:
        msg = "wrong type"
    if msg == "port out of range":
        expected = "a port from 1 to 65535"
    if etype in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        expected, msg = msg.replace("Input should be ", "a number "), "out of range"
    if etype.startswith("ip_v4"):
        msg = "not a valid IPv4 CIDR"
    if isinstance(value, dict) and etype in ("value_error", "assertion_error"):
        value = None  # a whole section: the message says what is wrong with it
    return ConfigError(source, msg, field=field, value=value, expected=expected, line=line)


def _describe(loc: tuple[Any, ...]) -> str | None:
    model = _model_at(loc[:-1])
    if model is None:
        return None
    f = model.model_fields.get(str(loc[-1]))
    return f.description if f else None
