"""No module of padt_eval names a higher layer in a string: an `importlib.import_module`
argument, a lazy `"module:attribute"` target or a list of module names is an import that
`lint-imports` cannot see, so it is held to the same layers here (issue 20)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
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


def test_no_module_string_names_a_higher_layer():
    assert upward_strings(REPO) == []


def test_the_check_sees_an_upward_string(tmp_path):
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tmp_path / "padt_eval" / "models").mkdir(parents=True)
    (tmp_path / "padt_eval" / "models" / "base.py").write_text(
        'import importlib\nimportlib.import_module("padt_eval.demo.colour_finder")\nTARGET = "padt_eval.core.rle:encode"\n'
    )
    assert upward_strings(tmp_path) == ["padt_eval/models/base.py:2: models -> padt_eval.demo.colour_finder"]
