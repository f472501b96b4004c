"""tools/import_graph.py: the package graph and the module circles inside packages (issue 20)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("import_graph", REPO / "tools" / "import_graph.py")
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)


def test_no_package_circles():
    _, edges = import_graph.package_graph(REPO)
    assert import_graph.import_circles(edges) == []


def test_no_module_circles_inside_models():
    """`models/hf/adapter.py` <-> `hf/backend.py` and PaDT's family <-> adapter were the two."""
    circles = import_graph.module_circles(REPO)
    assert [c for c in circles if import_graph.package_of(c[0]) == "padt_eval.models"] == []


def test_a_module_circle_inside_a_package_is_reported(tmp_path):
    pkg = tmp_path / "padt_eval" / "models" / "hf"
    pkg.mkdir(parents=True)
    for d in (tmp_path / "padt_eval", tmp_path / "padt_eval" / "models", pkg):
        (d / "__init__.py").write_text("")
    (pkg / "adapter.py").write_text("from padt_eval.models.hf.backend import Backend\n")
    (pkg / "backend.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from padt_eval.models.hf.adapter import Adapter\n"
    )
    assert import_graph.module_circles(tmp_path) == [["padt_eval.models.hf.adapter", "padt_eval.models.hf.backend"]]


def test_no_module_circles_inside_core():
    """core/types.py holds plain records and opening an image is core/images.py's job, so the
    two no longer import each other; fileio <-> derived_cache was the other pair in core."""
    circles = import_graph.module_circles(REPO)
    assert [c for c in circles if import_graph.package_of(c[0]) == "padt_eval.core"] == []
