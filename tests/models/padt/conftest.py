"""Shared fixtures for the PaDT tests: the golden fixture folder and tiny built checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from padt_eval.models.padt.tiny import build_tiny_padt

    return build_tiny_padt(tmp_path_factory.mktemp("padt_tiny") / "untied", seed=0)


@pytest.fixture(scope="session")
def tiny_tied_checkpoint(tmp_path_factory) -> Path:
    from padt_eval.models.padt.tiny import build_tiny_padt

    return build_tiny_padt(tmp_path_factory.mktemp("padt_tiny") / "tied", seed=1, tie_word_embeddings=True)
