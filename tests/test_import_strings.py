"""No module of padt_eval names a higher layer in a string: an `importlib.import_module`
argument, a lazy `"module:attribute"` target or a list of module names is an import that
`lint-imports` cannot see, so `tools/import_graph.py` holds it to the same layers (issue 20)."""

from __future__ import annotations

from .test_import_graph import REPO, import_graph


def test_no_module_string_names_a_higher_layer():
    assert import_graph.upward_strings(REPO) == []


def test_the_check_sees_an_upward_string(tmp_path):
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tmp_path / "padt_eval" / "models").mkdir(parents=True)
    (tmp_path / "padt_eval" / "models" / "base.py").write_text(
        'import importlib\nimportlib.import_module("padt_eval.demo.colour_finder")\nTARGET = "padt_eval.core.rle:encode"\n'
    )
    assert import_graph.upward_strings(tmp_path) == ["padt_eval/models/base.py:2: models -> padt_eval.demo.colour_finder"]
