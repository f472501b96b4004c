"""Per-batch timing (runner/timing.py): a scripted slow loader shows up as data wait, a
scripted slow model as model time, in model.json, the manifest and the progress table.

Only proportions are asserted, with wide margins: the colour finder's own work on a
synthetic image is a few milliseconds (about 8 ms, model and decoding together, on an idle
2-core machine), its scripted delay 100 ms a sample."""

from __future__ import annotations

import json
import math
import re

import pytest
from rich.console import Console

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions
from padt_eval.results.run_folder import RunFolder
from padt_eval.runner.progress import RunProgress

DELAY_S = 0.1
BATCH = 4


def _run(synth_root, out, **delays):
    result = api.run_model(
        Task.REC,
        "refcoco_val",
        ModelOptions("colour-finder", options={k: str(v) for k, v in delays.items()}),
        data=DataOptions(data_root=synth_root),
        run=RunOptions(1, batch_size=BATCH, loader_workers=0),  # loader in this process: its time is all data wait
        output=OutputOptions(out, report=False),
    )
    folder = RunFolder(out)
    timing = json.loads(folder.model_json.read_text())["timing"]
    runner = json.loads(folder.manifest.read_text())["runner"]
    return result, timing, runner


@pytest.fixture(scope="module")
def slow_loader(synth_root, tmp_path_factory):
    return _run(synth_root, tmp_path_factory.mktemp("timing") / "slow-loader", prep_delay_s=DELAY_S)


@pytest.fixture(scope="module")
def slow_model(synth_root, tmp_path_factory):
    return _run(synth_root, tmp_path_factory.mktemp("timing") / "slow-model", delay_s=DELAY_S)


def test_a_slow_loader_is_data_wait_and_a_slow_model_is_model_time(slow_loader, slow_model):
    (_, loader, _), (_, model, _) = slow_loader, slow_model
    assert loader["data_wait_s"] > 2 * loader["model_s"]
    assert model["model_s"] > 2 * model["data_wait_s"]
    assert loader["data_wait_share"] > 2 / 3 > 1 / 3 > model["data_wait_share"]
    # each slow side against the other run's same side: the scripted delay is what moved
    assert loader["data_wait_s"] > 2 * model["data_wait_s"] and model["model_s"] > 2 * loader["model_s"]


def test_timing_counts_every_batch_and_sums_its_ranks(slow_model):
    result, timing, runner = slow_model
    n = result.counts["n_samples"]
    assert timing["batches"] == math.ceil(n / BATCH)
    assert timing["attempt"] == runner["attempt"]
    (rank,) = timing["per_rank"]
    assert {k: rank[k] for k in ("batches", "data_wait_s", "model_s", "write_s")} == {
        k: timing[k] for k in ("batches", "data_wait_s", "model_s", "write_s")
    }
    assert timing["data_wait_share"] == pytest.approx(
        timing["data_wait_s"] / (timing["data_wait_s"] + timing["model_s"]), abs=1e-4
    )
    # the manifest's runner section has the same timing, and each rank's summary its parts
    assert runner["timing"] == timing
    assert runner["per_rank"][0]["model_seconds"] == pytest.approx(timing["model_s"], abs=1e-3)


def test_the_model_description_handed_to_scoring_has_no_timing(slow_model, tmp_path):
    result, _, _ = slow_model
    metrics = json.loads(RunFolder(result.out_dir).metrics.read_text())
    assert "timing" not in metrics["model"] and metrics["model"]["delay_s"] == DELAY_S


def test_the_progress_table_shows_data_wait_against_model_time(slow_loader, slow_model):
    cells = {}
    for name, (result, timing, runner) in (("loader", slow_loader), ("model", slow_model)):
        view = RunProgress(result.out_dir, runner["attempt"], Console(), "t")
        (status,) = view.snapshot()
        assert status.timing is not None and status.timing.data_wait_s == pytest.approx(timing["data_wait_s"], abs=1e-5)
        console = Console(record=True, width=200)
        console.print(view.render([status]))
        text = console.export_text()
        assert "data wait" in text and "model" in text
        row = next(line for line in text.splitlines() if line.strip(" │|").startswith("0 "))  # rank 0's row
        wait, share, model = re.search(r"([\d,.]+) s \((\d+)%\)\s*│\s*([\d,.]+) s", row).groups()
        assert float(wait) == pytest.approx(timing["data_wait_s"], abs=0.051)
        assert float(model) == pytest.approx(timing["model_s"], abs=0.051)
        assert int(share) == pytest.approx(100 * timing["data_wait_s"] / (timing["data_wait_s"] + timing["model_s"]), abs=1)
        cells[name] = int(share)
    assert cells["loader"] > 66 > 33 > cells["model"]


def test_a_cpu_is_named_with_its_thread_count_in_words():
    from padt_eval.runner.timing import cpu_name

    assert cpu_name("Xeon", 1) == "CPU Xeon (1 thread)"  # the cost table printed "(1 threads)"
    assert cpu_name("Xeon", 2) == "CPU Xeon (2 threads)"
