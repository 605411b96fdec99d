"""Checks 1-3: both HCL parsers, references (variables, locals, resources, templatefile), the provider schema.

>>> check_syntax(Stack({"main.tf": b"x = 1\n"})).status  # doctest: +SKIP
'pass'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from generator.checks import provider_schema
from generator.core.contract import AUTO_FILLED
from generator.core.errors import did_you_mean

from .report import FAIL, PASS, CheckResult
from .stack import TEMPLATE_TOKEN, Stack

_REF = re.compile(
    r"(?<![\w.])(?:"
    r"(?P<var>var)\.(?P<var_name>[A-Za-z_][\w-]*)"
    r"|(?P<local>local)\.(?P<local_name>[A-Za-z_][\w-]*)"
    r"|data\.(?P<data_type>[a-z][a-z0-9]*_[\w]+)\.(?P<data_name>[A-Za-z_][\w-]*)"
    r"|(?P<res_type>(?!data\b)[a-z][a-z0-9]*_[a-z0-9_]+)\.(?P<res_name>[A-Za-z_][\w-]*)"
    r")"
)


_INTERP = re.compile(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}")


_TEMPLATEFILE = re.compile(r"templatefile\(\s*\"(?P<path>[^\"]*)\"\s*,\s*\{(?P<body>.*?)\}\s*\)", re.S)


# -- 1. syntax -----------------------------------------------------------
def check_syntax(stack: Stack) -> CheckResult:
    if stack.syntax_problems:
        bad = {p.split(":", 1)[0] for p in stack.syntax_problems}
        return CheckResult("syntax", FAIL, f"{len(bad)} file(s) do not parse", stack.syntax_problems)
    return CheckResult("syntax", PASS, f"{len(stack.tf)} .tf files parse with python-hcl2 and HashiCorp's parser; YAML files parse")


# -- 2. references -------------------------------------------------------
def check_references(stack: Stack) -> CheckResult:
    names = _Declared(
        variables=set(stack.variables()),
        local_names=set(stack.locals()),
        data={(t, n) for _, t, n, _ in stack.all_blocks("data")},
        resources={(t, n) for _, t, n, _ in stack.all_blocks("resource")},
    )
    problems, used_vars = _reference_problems(stack, names)
    for name in sorted(names.variables - used_vars - set(AUTO_FILLED)):
        problems.append(f"variables.tf: variable {name!r} is declared but never used; remove it or use it")
    problems += _templatefile_problems(stack)
    if problems:
        return CheckResult("references", FAIL, f"{len(problems)} unresolved or unused name(s)", problems)
    return CheckResult(
        "references", PASS,
        f"{len(names.variables)} variables, {len(names.local_names)} locals, {len(names.data)} data sources, "
        f"{len(names.resources)} resources: all resolve; templatefile() vars match",
    )


@dataclass
class _Declared:
    """What a stack declares, for references to resolve against."""

    variables: set[str]
    local_names: set[str]
    data: set[tuple[str, str]]
    resources: set[tuple[str, str]]


def _reference_problems(stack: Stack, names: _Declared) -> tuple[list[str], set[str]]:
    """(one problem per reference that does not resolve, the variables used somewhere)."""
    problems: list[str] = []
    used_vars: set[str] = set()
    for fname, doc in stack.docs.items():
        # A variable's own validation block names it without using it.
        in_variables = set(_expressions(doc.get("variable", [])))
        for expr in _expressions(doc):
            for m in _REF.finditer(_strip_strings(expr)):
                if m.group("var") and expr not in in_variables:
                    used_vars.add(m.group("var_name"))
                problem = _unresolved(m, names)
                if problem:
                    problems.append(f"{fname}:{_line_in(stack.tf[fname], m.group(0))}: {problem}")
    return problems, used_vars


def _unresolved(m: re.Match[str], names: _Declared) -> str | None:
    """What is wrong with one reference, or None when it resolves."""
    if m.group("var"):
        name = m.group("var_name")
        if name not in names.variables:
            return f"var.{name} is not declared{did_you_mean(name, names.variables)}; add a variable block or fix the name"
    elif m.group("local"):
        name = m.group("local_name")
        if name not in names.local_names:
            return f"local.{name} is not defined{did_you_mean(name, names.local_names)}"
    elif m.group("data_type"):
        key = (m.group("data_type"), m.group("data_name"))
        if key not in names.data:
            return f"data.{key[0]}.{key[1]} is not declared{did_you_mean('.'.join(key), ['.'.join(d) for d in names.data])}"
    elif m.group("res_type"):
        key = (m.group("res_type"), m.group("res_name"))
        if key[0] not in ("path", "terraform", "count", "each", "stack") and key not in names.resources:
            return f"{key[0]}.{key[1]} is not declared{did_you_mean('.'.join(key), ['.'.join(r) for r in names.resources])}"
    return None


def _templatefile_problems(stack: Stack) -> list[str]:
    problems = []
    for fname, text in stack.tf.items():
        for m in _TEMPLATEFILE.finditer(text):
            target = m.group("path").replace("${path.module}/", "")
            passed = set(re.findall(r"^\s*([A-Za-z_]\w*)\s*=", m.group("body"), re.M))
            if target not in stack.text:
                problems.append(f"{fname}: templatefile() reads {target}, which is not in the stack")
                continue
            used = {t.group(1) for t in TEMPLATE_TOKEN.finditer(stack.text[target]) if t.group(1)}
            for name in sorted(used - passed):
                problems.append(f"{target}: placeholder ${{{name}}} has no value in templatefile() in {fname}{did_you_mean(name, passed)}; pass {name} = ... or remove the placeholder")
            for name in sorted(passed - used):
                problems.append(f"{fname}: templatefile() passes {name!r}, which {target} never uses")
    return problems


# -- 3. provider schema --------------------------------------------------
def check_provider_schema(stack: Stack) -> CheckResult:
    found = provider_schema.check(stack.docs)
    version = provider_schema.snapshot_version()
    if found:
        return CheckResult("provider schema", FAIL, f"{len(found)} problem(s) against {version}", [_schema_problem_text(p) for p in found])
    n = len(stack.all_blocks("resource")) + len(stack.all_blocks("data"))
    return CheckResult("provider schema", PASS, f"{n} resources and data sources match {version}")


def _expressions(value: Any) -> list[str]:
    """The expression text inside a python-hcl2 value (skipping plain string literals)."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("__is_block__", "__comments__"):
                continue
            out += _expressions(v)
    elif isinstance(value, list):
        for v in value:
            out += _expressions(v)
    elif isinstance(value, str):
        if value.startswith('"'):
            out += [m.group(1) for m in _INTERP.finditer(value)]
        else:
            out.append(value)
    return out


def _strip_strings(expr: str) -> str:
    """Drop quoted string contents (but keep their interpolations) so prose is not read as references."""
    result, i = [], 0
    while i < len(expr):
        ch = expr[i]
        if ch == '"':
            j = i + 1
            buf = []
            while j < len(expr) and expr[j] != '"':
                if expr[j] == "\\":
                    j += 2
                    continue
                if expr.startswith("${", j):
                    depth, k = 0, j
                    while k < len(expr):
                        if expr[k] == "{":
                            depth += 1
                        elif expr[k] == "}":
                            depth -= 1
                            if depth == 0:
                                break
                        k += 1
                    buf.append(" " + expr[j + 2 : k] + " ")
                    j = k + 1
                    continue
                j += 1
            result.append(" ".join(buf))
            i = j + 1
        else:
            result.append(ch)
            i += 1
    return "".join(result)


def _schema_problem_text(p: Any) -> str:
    return f"{p.file}: {p.address}{'.' + p.path if getattr(p, 'path', '') else ''}: {p.message}"


def _line_in(text: str, token: str) -> int:
    idx = text.find(token)
    return text.count("\n", 0, idx) + 1 if idx >= 0 else 0
