"""No product module reaches `padt_eval.testing` (the tests' and benchmarks' instruments):
not by an import at the top, not by one inside a function, not by an importlib string.
`lint-imports` holds the first two through the layers contract; this test also sees the
strings, which import-linter cannot."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = re.compile(r"^padt_eval\.testing(?:$|[.:])")


def _graph_tool():
    spec = importlib.util.spec_from_file_location("import_graph", REPO / "tools" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may name the package in prose)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def offenders(root: Path) -> list[str]:
    """'module: what' for every reach into padt_eval.testing from outside it."""
    tool = _graph_tool()
    out = []
    for path in sorted((root / "padt_eval").rglob("*.py")):
        module = tool._module_name(path, root)
        if TARGET.match(module):
            continue
        out += [f"{module}: imports {name}" for name in sorted(tool._imported_modules(path, module)) if TARGET.match(name)]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
                and TARGET.match(node.value)
            ):
                out.append(f"{module}: names {node.value!r}")
    return out


def test_no_product_module_reaches_the_testing_package():
    assert (REPO / "padt_eval" / "testing" / "__init__.py").is_file()
    assert offenders(REPO) == []


def test_every_way_in_is_found(tmp_path):
    files = {
        "padt_eval/__init__.py": "",
        "padt_eval/testing/__init__.py": "",
        "padt_eval/testing/tool.py": "from padt_eval.models import a\n",  # the instruments may import the product
        "padt_eval/models/__init__.py": "",
        "padt_eval/models/a.py": '"""See padt_eval.testing.tool."""\ndef f():\n    from ..testing import tool\n',
        "padt_eval/models/b.py": 'import importlib\nMOD = importlib.import_module("padt_eval.testing.tool")\n',
        "padt_eval/models/c.py": 'TARGET = "padt_eval.testing.tool:Thing"\nNOT = "padt_eval.testing_other"\n',
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert offenders(tmp_path) == [
        "padt_eval.models.a: imports padt_eval.testing",
        "padt_eval.models.a: imports padt_eval.testing.tool",
        "padt_eval.models.b: names 'padt_eval.testing.tool'",
        "padt_eval.models.c: names 'padt_eval.testing.tool:Thing'",
    ]
