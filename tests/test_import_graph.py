"""tools/import_graph.py: package circles and, inside a package, module circles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("import_graph", REPO / "tools" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_module_circle_inside_a_package_is_reported(tmp_path):
    """A lazy import back (inside a function) still closes the circle; the parent __init__
    that `from padt_eval.core import b` runs first does not make one."""
    _write(
        tmp_path,
        {
            "padt_eval/__init__.py": "",
            "padt_eval/core/__init__.py": "",
            "padt_eval/core/a.py": "from padt_eval.core import b\n",
            "padt_eval/core/b.py": "def f():\n    from .a import g\n",
            "padt_eval/core/c.py": "from padt_eval.core.a import x\n",
        },
    )
    tool = _tool()
    graph = tool.module_graph(tmp_path)
    assert graph["padt_eval.core.c"] == {"padt_eval.core.a"}
    assert tool.import_circles(graph) == [["padt_eval.core.a", "padt_eval.core.b"]]


def test_core_has_no_module_circle():
    """core/types.py holds plain records; opening an image is core/images.py's job, so
    the two no longer import each other (nor does any other pair in core/)."""
    tool = _tool()
    circles = tool.import_circles(tool.module_graph(REPO))
    assert [c for c in circles if c[0].startswith("padt_eval.core.")] == []
