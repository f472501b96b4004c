"""A REC predictions file on the synthetic split, shared by the results-folder tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions


@pytest.fixture(scope="module")
def preds(synth_root, tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("results") / "answers.jsonl"
    make_predictions(open_split("refcoco_val", Task.REC, data_root=synth_root), p, seed=4)
    return p
