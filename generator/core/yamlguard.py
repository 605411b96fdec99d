"""Bounded work on any YAML input: nesting depth and alias expansion are limited up front.

A 500-byte "billion laughs" document expands to billions of nodes when anything walks it
as a tree (the duplicate-key check, pydantic), and 5,000 nested brackets overflow Python's
recursion in the composer. Both are measured here on the event stream (iterative, no tree)
and on the node graph with memoised sizes (linear in the text), before anything else looks.

>>> check_bounded("a: [1, 2]", "demo.yaml")
>>> check_bounded("a: " + "[" * 200 + "]" * 200, "demo.yaml")
Traceback (most recent call last):
...
generator.core.errors.ConfigError: demo.yaml:1: nesting is deeper than 64 levels: a config needs a handful; refused before reading further
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from generator.core.errors import ConfigError

MAX_DEPTH = 64
MAX_CHARS = 1_000_000
# Nodes after expanding every alias: a full config has a few hundred; this leaves room for anchors reused sensibly.
MAX_EXPANDED_NODES = 20_000

_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in, else the pure parser
_START = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_END = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def check_bounded(text: str, source: str) -> None:
    """Raise `ConfigError` if ``text`` nests too deep or its aliases expand too far; syntax errors are left to the loader."""
    if len(text) > MAX_CHARS:
        raise ConfigError(source, f"the config is {len(text):,} characters long: more than {MAX_CHARS:,}; a config is a few kB")
    try:
        _check_depth(text, source)
        node = yaml.compose(text, Loader=_Parser)
    except yaml.YAMLError:
        return
    if node is not None and expanded_size(node) > MAX_EXPANDED_NODES:
        raise ConfigError(
            source,
            f"aliases (*name) expand to more than {MAX_EXPANDED_NODES:,} values: a config needs a few hundred; "
            "refused before expanding them",
        )


def _check_depth(text: str, source: str) -> None:
    # libyaml first: ~50x faster, so an 800 kB config costs milliseconds, not seconds. Where it
    # stops with its own error (near 1,000 levels, or a syntax error) the pure-Python parser
    # decides: iterative, and it reports depth itself rather than leaving the deep text to the
    # recursive composer.
    try:
        _depth_of(yaml.parse(text, Loader=_Parser), source)
        return
    except yaml.YAMLError:
        pass
    _depth_of(yaml.parse(text, Loader=yaml.SafeLoader), source)


def _depth_of(events: Iterator[yaml.Event], source: str) -> None:
    depth = 0
    for event in events:
        if isinstance(event, _START):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                raise ConfigError(source, f"nesting is deeper than {MAX_DEPTH} levels: a config needs a handful; refused before reading further", line=line)
        elif isinstance(event, _END):
            depth -= 1


def expanded_size(root: yaml.Node) -> int:
    """How many nodes a tree walk would visit (aliases expanded), computed without expanding.

    >>> expanded_size(yaml.compose("a: &x [1, 2]\\nb: [*x, *x]"))
    13
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # iterative post-order; a node shared by aliases is sized once
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done or not children:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in children)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def compose_fast(text: str) -> yaml.Node | None:
    """The node graph, by libyaml when it reads the text; otherwise by the pure-Python parser,
    whose error (the one users have always seen) is raised. Call after `check_bounded`."""
    try:
        return yaml.compose(text, Loader=_Parser)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


def construct(node: yaml.Node | None) -> object:
    """Python data from a composed node: what ``yaml.safe_load`` of the same text gives."""
    return yaml.SafeLoader("").construct_document(node) if node is not None else None
