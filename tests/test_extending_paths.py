"""Every file docs/extending.md names exists (issue 20: six of its paths had gone stale)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PATH = re.compile(r"\b((?:padt_eval|tests|docs|benchmarks)/[A-Za-z0-9_./<>-]*[A-Za-z0-9_>])")


def named_paths(text: str) -> list[str]:
    return sorted(set(PATH.findall(text)))


def missing(text: str, root: Path) -> list[str]:
    """The named paths that do not exist; a `<placeholder>` part must name an existing folder."""
    out = []
    for path in named_paths(text):
        check = path.split("<", 1)[0].rsplit("/", 1)[0] if "<" in path else path
        if not (root / check).exists():
            out.append(path)
    return out


def test_every_path_in_extending_md_exists():
    text = (REPO / "docs" / "extending.md").read_text(encoding="utf-8")
    assert len(named_paths(text)) > 20
    assert missing(text, REPO) == []


def test_a_stale_path_is_caught():
    assert missing("see `padt_eval/models/tiny.py` and `padt_eval/models/coords/<family>.py`", REPO) == [
        "padt_eval/models/tiny.py"
    ]
