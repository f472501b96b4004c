"""Where the PaDT parity fixture lives (shared by the PaDT tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def parity_fixture_dir() -> Path:
    """PADT_PARITY_FIXTURE, or ../shared/fixtures/padt_tiny next to the repository root.
    A relative value is taken relative to the repository root, not the cwd."""
    value = os.environ.get("PADT_PARITY_FIXTURE")
    path = Path(value) if value else Path("..") / "shared" / "fixtures" / "padt_tiny"
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path.resolve()


def load_manifest() -> dict | None:
    path = parity_fixture_dir() / "manifest.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
