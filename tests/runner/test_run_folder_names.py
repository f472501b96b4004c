"""`RunFolder` owns every file name of a run folder: a finished model run (two ranks, so
plans, shards and logs of several ranks) holds nothing it does not name, so `--overwrite`
(`ownership.OWN_ENTRIES`) and every reader agree with the writers."""

from __future__ import annotations

import pytest

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions
from padt_eval.results import ownership
from padt_eval.results.run_folder import RunFolder


@pytest.mark.slow
def test_every_file_of_a_finished_run_is_one_run_folder_names(synth_root, tmp_path):
    out = tmp_path / "run"
    api.run_model(
        Task.RES,
        "refcoco_val",
        ModelOptions("colour-finder"),
        data=DataOptions(data_root=synth_root),
        run=RunOptions(2, batch_size=4, loader_workers=0),
        output=OutputOptions(out),
    )
    folder = RunFolder(out)
    assert {p.name for p in out.iterdir()} <= set(RunFolder.ENTRIES) == set(ownership.OWN_ENTRIES)
    (summary,) = folder.plan.glob("*.json")
    attempt = summary.stem
    named = {folder.plan_summary(attempt), folder.model_json, folder.predictions, folder.metrics, folder.manifest}
    for rank in (0, 1):
        named |= {folder.plan_ids(attempt, rank), folder.timing(attempt, rank), folder.shard(attempt, rank)}
    files = {p for p in out.rglob("*") if p.is_file() and folder.logs not in p.parents}
    assert named <= files
    assert files - named == {folder.signature, folder.run_json, folder.run_lock, folder.per_sample, folder.report}
    assert folder.shards_of(attempt) == folder.shard_files() == [folder.shard(attempt, 0), folder.shard(attempt, 1)]
