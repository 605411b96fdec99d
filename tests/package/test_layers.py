"""Issue 9: the package's shape, checked statically from the source.

* imports go one way through the layers below (no cycles, no upward import);
* no import inside a function except the few named here, each a lazy import that keeps
  `flowstack --help` fast (never a cycle dodge);
* the emulator is a leaf: it imports nothing else of `generator`;
* the library never imports click (only `generator.cli` does).

The failing cases are shown on small made-up graphs, so the checks themselves can fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "generator"

# Lowest first. A module may import from layers below it and from modules of its own layer
# listed before it.
LAYERS: list[tuple[str, list[str]]] = [
    # The provider double is a leaf (imports nothing else of generator): the checks, the build
    # and the emulator's job program run Terraform through it.
    ("provider double", ["tfdouble", "tfdouble.schema", "tfdouble.values", "tfdouble.cloud", "tfdouble.behaviour",
                         "tfdouble.server", "tfdouble.binary", "tfdouble.runner", "tfdouble.job", "tfdouble.__main__"]),
    # core/ is the leaf every other package stands on: errors, contract names, files, HCL, YAML,
    # templating and the dated data. A few modules of higher packages import nothing of
    # generator and sit just above it.
    ("core", ["core.errors", "core.contract", "core.samples", "core.hcl", "core.yamlio", "core.caddyquote", "core.templating", "core.limits", "core.prices",
              "core.versions", "core.regions", "core.swap", "core.files", "core.yamlguard", "core.serverdata", "core.gitssh"]),
    ("leaves of higher packages", ["emit.pyship", "checks.provider_schema", "derive.autodomain"]),
    ("config: the schema", ["config.base", "config.alerts", "config.network", "scale.config", "config.schema"]),
    # Checks of the config's own fields against dated data (OCI limits, the Always Free fleet):
    # they need only the schema (loading gives them the port policy's rule count).
    ("config: field checks", ["config.inputguard", "scale.guard"]),
    ("derive: meaning", ["scale.stack", "derive.livekit", "derive.ports", "derive.firewall", "derive.hostnames"]),
    ("config: loading", ["config.load", "emit.jsonschema"]),
    ("derive: variables", ["derive.model", "derive.derived"]),
    ("emit", ["scale.server", "emit.templatefile", "emit.sampleapp", "derive.bootnames", "emit.agent", "emit.caddyconf", "emit.compose", "emit.cloudinit", "emit.bundle", "emit.schema_form", "emit.render"]),
    ("checks", ["checks.report", "checks.hclparse", "checks.stack", "checks.terraform", "checks.ports", "checks.fit", "checks.secrets", "checks.notes", "checks.terraform_run", "checks.external", "checks.run"]),
    ("build", ["build.pipeline", "build.preview", "build.envfile", "build.starter", "config.rotate"]),
    ("cost", ["cost.reserved_ip", "cost.estimate", "cost.table", "cost.sizing", "cost.fleet"]),
    ("deploy", ["deploy.oci_defaults", "deploy.variables", "deploy.sshkey", "deploy.keysetup", "deploy.planlog", "deploy.results", "deploy.ociauth", "deploy.sdk", "deploy.following", "deploy.policy", "deploy.stackcreate", "deploy.endpoint", "deploy.rm", "deploy.session", "deploy.serverdiff", "deploy.workflow"]),
    ("ops", ["ops.hosts", "ops.telemetry", "ops.usage", "ops.idle", "ops.pngfont", "ops.chart", "ops.probe", "ops.stun", "ops.media", "ops.agentssh", "ops.status", "ops.doctor"]),
    ("cli", ["cli.commands", "cli.lazy", "cli.root", "cli.options", "cli.console", "cli.stack", "cli.cost", "cli.rm", "cli.rotate", "cli.ocisetup", "cli.deploykey", "cli.ops", "cli.emulator", "cli", "cli.__main__"]),
]
# Imports inside functions that are allowed, each with its reason.
LAZY_OK = {
    ("cli.emulator", "generator.emulator.run"): "cryptography and the HTTP server cost start-up time; only `emulator` needs them",
    ("checks.run", "generator.checks.terraform_run"): "the provider double (gRPC, protobuf) costs start-up time; only validate/plan run Terraform",
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute target module under generator, inside a function?) for each import."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_func: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - (child.level - 1)] if child.level > 1 else package
                    mod = ".".join([*base, *(child.module.split(".") if child.module else [])])
                    targets = [mod] if child.module else [f"{mod}.{a.name}".strip(".") for a in child.names]
                    out.extend((t, in_func) for t in targets)
                elif child.module and child.module.startswith("generator"):
                    out.append((child.module.removeprefix("generator").strip("."), in_func))
                elif child.module == "click" or (child.module or "").startswith("click."):
                    out.append(("<click>", in_func))
            elif isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.startswith("generator"):
                        out.append((a.name.removeprefix("generator").strip("."), in_func))
                    elif a.name == "click":
                        out.append(("<click>", in_func))
            visit(child, inner)

    visit(tree, False)
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PKG.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target, _ in imports(path):
            if target == "<click>":
                continue
            # "from . import limits" names a module; "from .hcl import x" names hcl.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by DFS (one per back edge)."""
    found, state, stack = [], {}, []

    def dfs(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif not state.get(m):
                dfs(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if not state.get(n):
            dfs(n)
    return found


def rank() -> dict[str, tuple[int, int]]:
    return {m: (i, j) for i, (_, mods) in enumerate(LAYERS) for j, m in enumerate(mods)}


def upward(edges: dict[str, set[str]]) -> list[str]:
    r = rank()
    bad = []
    for src, targets in edges.items():
        if src not in r:
            continue
        for dst in targets:
            if dst in r and r[dst] >= r[src]:
                bad.append(f"{src} -> {dst}")
    return bad


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_every_module_has_a_layer() -> None:
    r = rank()
    unplaced = [m for m in graph() if m and m not in r and not m.startswith("emulator") and m not in ("checks", "cost", "deploy", "ops", "core", "config", "derive", "emit", "build", "scale")]
    assert unplaced == [], "add these modules to LAYERS (and to docs/layout.md's Layers table)"


def test_imports_go_one_way_down() -> None:
    assert upward(graph()) == []
    assert upward({"emit.render": {"checks.run"}}) == ["emit.render -> checks.run"]  # the check can fail


def test_no_function_level_imports_of_generator() -> None:
    bad = []
    for path in PKG.rglob("*.py"):
        for target, in_func in imports(path):
            if in_func and target != "<click>" and (module_name(path), f"generator.{target}") not in LAZY_OK:
                bad.append(f"{module_name(path)} imports {target} inside a function")
    assert bad == []


def leaf_violations(edges: dict[str, set[str]], package: str) -> list[str]:
    return [f"{m} -> {t}" for m, ts in edges.items() if m.startswith(package) for t in ts if not t.startswith(package)]


def test_emulator_is_a_leaf() -> None:
    assert leaf_violations(graph(), "emulator") == []


def test_core_is_a_leaf() -> None:
    assert leaf_violations(graph(), "core") == []
    assert leaf_violations({"core.files": {"config.load"}}, "core") == ["core.files -> config.load"]


def test_at_most_ten_modules_directly_in_the_package() -> None:
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert len(top) <= 10, top


def test_provider_double_is_a_leaf() -> None:
    assert leaf_violations(graph(), "tfdouble") == []
    assert leaf_violations({"tfdouble.runner": {"checks.report"}}, "tfdouble") == ["tfdouble.runner -> checks.report"]


@pytest.mark.parametrize("path", sorted(p for p in PKG.rglob("*.py") if "cli" not in p.relative_to(PKG).parts), ids=str)
def test_library_never_imports_click(path: Path) -> None:
    assert "<click>" not in [t for t, _ in imports(path)]
