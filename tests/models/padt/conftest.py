"""Shared fixtures for the PaDT tests (the untied `tiny_checkpoint` lives in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_tied_checkpoint(tmp_path_factory) -> Path:
    from padt_eval.demo.tiny_padt import build_tiny_padt

    return build_tiny_padt(tmp_path_factory.mktemp("padt_tiny") / "tied", seed=1, tie_word_embeddings=True)
