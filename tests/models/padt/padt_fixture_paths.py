"""Where the PaDT parity fixture lives (shared by the PaDT tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_FIXTURE = Path("tests") / "fixtures" / "padt_tiny"


def parity_fixture_dir() -> Path:
    """PADT_PARITY_FIXTURE, or tests/fixtures/padt_tiny inside the repository (committed,
    so a fresh clone has it). A relative value is taken relative to the repository root,
    not the cwd."""
    value = os.environ.get("PADT_PARITY_FIXTURE")
    path = Path(value) if value else DEFAULT_FIXTURE
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path.resolve()


def load_manifest() -> dict:
    """The fixture's manifest.json. A missing fixture is an error, not a skip: the parity
    tests are the evidence that our PaDT equals the reference."""
    path = parity_fixture_dir() / "manifest.json"
    if not path.is_file():
        where = "PADT_PARITY_FIXTURE" if os.environ.get("PADT_PARITY_FIXTURE") else f"the default {DEFAULT_FIXTURE}"
        raise FileNotFoundError(
            f"PaDT parity fixture not found: {path} (from {where}); restore tests/fixtures/padt_tiny or fix PADT_PARITY_FIXTURE"
        )
    return json.loads(path.read_text(encoding="utf-8"))
