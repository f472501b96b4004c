"""Print padt_eval's package import graph: the packages, the edges between them, and the
import circles (strongly connected components of more than one package); then the import
circles between modules inside one package (`models/hf/adapter.py` <-> `hf/backend.py`);
then every string that names a module of a higher layer than the module it sits in (an
`importlib.import_module` argument, a lazy `"module:attribute"` target: imports that
`lint-imports` cannot see), with the layers read from pyproject's import-linter contract.

A "package" is a top-level unit under padt_eval: a subpackage (`padt_eval.data`, everything
below it included) or a top-level module (`padt_eval.api`). Every import counts, also the
ones inside functions, because a lazy import still ties the two packages together.

    python tools/import_graph.py            # the graph of the checkout it sits in
    python tools/import_graph.py --root DIR # the graph of another checkout
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import tomllib


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _from_target(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a `from X import ...` in `module` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """(module named, the names imported from it) for every import statement in one file;
    `import a.b` is ("a.b", [])."""
    is_package = path.name == "__init__.py"
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((_from_target(node, module, is_package), [alias.name for alias in node.names]))
    return found


def _imported_modules(path: Path, module: str) -> set[str]:
    found = {name for target, names in _imports(path, module) for name in [target, *(f"{target}.{n}" for n in names)]}
    return {name for name in found if name == "padt_eval" or name.startswith("padt_eval.")}


def _unit(module: str, units: set[str]) -> str | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    candidate = ".".join(parts[:2])
    return candidate if candidate in units else None


def package_graph(root: Path) -> tuple[list[str], dict[str, set[str]]]:
    package_dir = root / "padt_eval"
    files = sorted(package_dir.rglob("*.py"))
    units = {_module_name(p, root) for p in files if p.parent == package_dir}
    units |= {f"padt_eval.{p.name}" for p in package_dir.iterdir() if (p / "__init__.py").exists()}
    units.discard("padt_eval")
    edges: dict[str, set[str]] = {unit: set() for unit in units}
    for path in files:
        module = _module_name(path, root)
        source = _unit(module, units)
        if source is None:
            continue
        for imported in _imported_modules(path, module):
            target = _unit(imported, units)
            if target is not None and target != source:
                edges[source].add(target)
    return sorted(units), edges


def _module_targets(path: Path, module: str, modules: set[str]) -> set[str]:
    """The padt_eval modules one file imports. `from a.b import c` names the module `a.b.c`
    when there is one (the package's `__init__` runs first, but the code depends on `c`),
    else `a.b`; `import a.b.c` names `a.b.c`."""
    found = set()
    for target, names in _imports(path, module):
        found |= {f"{target}.{n}" if f"{target}.{n}" in modules else target for n in names} if names else {target}
    return {name for name in found if name in modules and name != module}


def module_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the padt_eval modules it imports (every import, lazy and TYPE_CHECKING ones
    included)."""
    files = sorted((root / "padt_eval").rglob("*.py"))
    modules = {_module_name(p, root) for p in files}
    return {_module_name(p, root): _module_targets(p, _module_name(p, root), modules) for p in files}


def package_of(module: str) -> str:
    """The top-level unit a module belongs to (`padt_eval.models.hf.adapter` -> `padt_eval.models`)."""
    return ".".join(module.split(".")[:2])


def module_circles(root: Path) -> list[list[str]]:
    """Import circles between modules of one package (edges across packages left out)."""
    edges = module_graph(root)
    inside = {m: {t for t in targets if package_of(t) == package_of(m)} for m, targets in edges.items()}
    return import_circles(inside)


MODULE_STRING = re.compile(r"^(padt_eval(?:\.\w+)+)(?::\w+)?$")


def layers(root: Path) -> dict[str, int]:
    """Top-level unit -> its layer in pyproject's import-linter contract (0 is the top)."""
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return {name.strip(): i for i, layer in enumerate(contract["layers"]) for name in layer.split("|")}


def upward_strings(root: Path) -> list[str]:
    """`file:line: importer -> named` for every string naming a module of a higher layer."""
    rank = layers(root)
    found = []
    for path in sorted((root / "padt_eval").rglob("*.py")):
        importer = path.relative_to(root / "padt_eval").parts[0].removesuffix(".py")
        if importer not in rank:  # tools/ and the package's own __init__ sit above the layers
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                m = MODULE_STRING.match(node.value)
                named = m and m.group(1).split(".")[1]
                if named in rank and rank[named] < rank[importer]:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {importer} -> {node.value}")
    return found


def import_circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, keeping those of two or more packages."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return circles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    units, edges = package_graph(args.root)
    short = lambda name: name.removeprefix("padt_eval.")  # noqa: E731
    print(f"packages ({len(units)}): " + " ".join(short(u) for u in units))
    print(f"edges ({sum(len(v) for v in edges.values())}):")
    for unit in units:
        if edges[unit]:
            print(f"  {short(unit)} -> " + ", ".join(short(t) for t in sorted(edges[unit])))
    circles = import_circles(edges)
    print(f"import circles: {len(circles)}")
    for circle in circles:
        print("  " + " <-> ".join(short(u) for u in circle))
    inside = module_circles(args.root)
    print(f"module import circles inside packages: {len(inside)}")
    for circle in inside:
        print("  " + " <-> ".join(short(m) for m in circle))
    upward = upward_strings(args.root)
    print(f"module names in strings that point to a higher layer: {len(upward)}")
    for line in upward:
        print("  " + line)


if __name__ == "__main__":
    main()
