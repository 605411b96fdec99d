"""Plan and apply an object value against its schema block, the way an SDKv2 provider does.

Values are what msgpack decodes to: dicts, lists, scalars, ``None`` and ``UNKNOWN`` (the
``tf`` package's marker for a value Terraform will only know after apply).

* Create: every computed attribute the configuration leaves null becomes unknown.
* Update: computed attributes keep their prior value; a nested block element that has no
  prior twin is planned as a create.
* Apply: each unknown gets a value from a ``fill`` callback (the fake cloud), and known
  planned values are kept exactly (Terraform checks that).

Example::

    >>> block = {"attributes": {"name": {"type": "string", "required": True},
    ...                         "id": {"type": "string", "computed": True}}}
    >>> plan_create(block, {"name": "a", "id": None})["id"] is UNKNOWN
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tf.types import Unknown as UNKNOWN

Fill = Callable[[list[str], Any], Any]  # (attribute path, cty type) -> value


def _nested_elements(nested: dict[str, Any], value: Any) -> list[Any]:
    mode = nested["nesting_mode"]
    if value is None or value is UNKNOWN:
        return []
    if mode in ("single", "group"):
        return [value]
    if mode == "map":
        return list(value.values())
    return list(value)


def _rebuild(nested: dict[str, Any], value: Any, elements: list[Any]) -> Any:
    mode = nested["nesting_mode"]
    if value is None or value is UNKNOWN:
        return value
    if mode in ("single", "group"):
        return elements[0]
    if mode == "map":
        return dict(zip(value.keys(), elements, strict=True))
    return elements


def plan_create(block: dict[str, Any], proposed: dict[str, Any]) -> dict[str, Any]:
    """The planned value of a new object: computed nulls become unknown.

    Example::

        >>> plan_create({"attributes": {"x": {"type": "number", "optional": True}}}, {"x": None})
        {'x': None}
    """
    out = dict(proposed)
    for name, attr in block.get("attributes", {}).items():
        if attr.get("computed") and out.get(name) is None:
            out[name] = UNKNOWN
    for name, nested in block.get("block_types", {}).items():
        value = out.get(name)
        elements = [plan_create(nested["block"], e) for e in _nested_elements(nested, value)]
        out[name] = _rebuild(nested, value, elements)
    return out


def _settable(block: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """The part of an element the configuration sets, to pair set elements with prior ones."""
    return {
        n: value.get(n)
        for n, a in block.get("attributes", {}).items()
        if not (a.get("computed") and not a.get("optional"))
    }


def plan_update(block: dict[str, Any], prior: dict[str, Any], proposed: dict[str, Any]) -> dict[str, Any]:
    """The planned value of an existing object: computed values carry over from ``prior``.

    Example::

        >>> b = {"attributes": {"id": {"type": "string", "computed": True}}}
        >>> plan_update(b, {"id": "x"}, {"id": None})
        {'id': 'x'}
    """
    out = dict(proposed)
    for name, attr in block.get("attributes", {}).items():
        if attr.get("computed") and out.get(name) is None:
            out[name] = prior.get(name)
    for name, nested in block.get("block_types", {}).items():
        value = out.get(name)
        olds = _nested_elements(nested, prior.get(name))
        elements = []
        for i, element in enumerate(_nested_elements(nested, value)):
            twin = _twin(nested, olds, i, element)
            elements.append(plan_create(nested["block"], element) if twin is None
                            else plan_update(nested["block"], twin, element))
        out[name] = _rebuild(nested, value, elements)
    return out


def _twin(nested: dict[str, Any], olds: list[Any], index: int, element: dict[str, Any]) -> Any:
    if nested["nesting_mode"] != "set":
        return olds[index] if index < len(olds) else None
    key = _settable(nested["block"], element)
    return next((o for o in olds if _settable(nested["block"], o) == key), None)


def apply_values(block: dict[str, Any], planned: dict[str, Any], fill: Fill, path: list[str] | None = None) -> dict[str, Any]:
    """The planned object with every unknown replaced by ``fill(path, type)``.

    Example::

        >>> b = {"attributes": {"id": {"type": "string", "computed": True}}}
        >>> apply_values(b, {"id": UNKNOWN}, lambda p, t: "ocid1.x")
        {'id': 'ocid1.x'}
    """
    path = path or []
    out = dict(planned)
    for name, attr in block.get("attributes", {}).items():
        if out.get(name) is UNKNOWN:
            out[name] = fill([*path, name], attr["type"])
        elif _has_unknown(out.get(name)):
            out[name] = _fill_inside([*path, name], attr["type"], out[name], fill)
    for name, nested in block.get("block_types", {}).items():
        value = out.get(name)
        elements = [apply_values(nested["block"], e, fill, [*path, name]) for e in _nested_elements(nested, value)]
        out[name] = _rebuild(nested, value, elements)
    return out


def _has_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def _fill_inside(path: list[str], ty: Any, value: Any, fill: Fill) -> Any:
    """Unknowns inside a known collection (e.g. a map with one unknown element)."""
    if value is UNKNOWN:
        return fill(path, ty)
    if isinstance(value, dict) and isinstance(ty, list):
        if ty[0] == "object":
            return {k: _fill_inside([*path, k], ty[1].get(k, "dynamic"), v, fill) for k, v in value.items()}
        return {k: _fill_inside([*path, k], ty[1], v, fill) for k, v in value.items()}
    if isinstance(value, list) and isinstance(ty, list):
        return [_fill_inside(path, ty[1], v, fill) for v in value]
    return value


def conform(ty: Any, value: Any) -> Any:
    """``value`` shaped to cty type ``ty``: every object attribute present (null if absent).

    Example::

        >>> conform(["list", ["object", {"id": "string", "name": "string"}]], [{"id": "a"}])
        [{'id': 'a', 'name': None}]
    """
    if value is None or not isinstance(ty, list):
        return value
    kind, inner = ty[0], ty[1]
    if kind == "object":
        return {k: conform(t, value.get(k)) for k, t in inner.items()}
    if kind in ("list", "set"):
        return [conform(inner, v) for v in value]
    if kind == "map":
        return {k: conform(inner, v) for k, v in value.items()}
    return value


def zero(ty: Any) -> Any:
    """A known, empty value of a type, for computed attributes the fake cloud has no story for.

    Example::

        >>> zero(["map", "string"]), zero("bool")
        ({}, False)
    """
    if ty == "string":
        return ""
    if ty == "number":
        return 0
    if ty == "bool":
        return False
    if isinstance(ty, list) and ty[0] in ("list", "set"):
        return []
    if isinstance(ty, list) and ty[0] == "map":
        return {}
    return None


def value_at(value: Any, dotted: str) -> list[Any]:
    """Every value at a dotted attribute path, looking through lists (``a.b`` in ``a[*].b``).

    Example::

        >>> value_at({"a": [{"b": 1}, {"b": 2}]}, "a.b")
        [1, 2]
    """
    found = [value]
    for step in dotted.split("."):
        nxt: list[Any] = []
        for v in found:
            if isinstance(v, list):
                nxt.extend(e.get(step) for e in v if isinstance(e, dict))
            elif isinstance(v, dict):
                nxt.append(v.get(step))
        found = nxt
    return found
