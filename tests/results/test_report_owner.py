"""The HTML report is written by `api` (and so by the CLI), not by scoring: scoring
writes the run's record and returns it; `api.score` then writes report.html. A model
run's CLI summary line is printed from the returned record, not from manifest.json."""

from __future__ import annotations

from typer.testing import CliRunner

from padt_eval import api
from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions
from padt_eval.results.manifest import RunnerInfo
from padt_eval.scoring.score import score

runner = CliRunner()


def test_scoring_alone_writes_no_report(synth_root, preds, tmp_path):
    out = tmp_path / "scored"
    result = score(
        Task.REC, "refcoco_val", PredictionsOptions(preds), data=DataOptions(data_root=synth_root), output=OutputOptions(out)
    )
    assert (out / "metrics.json").is_file() and not (out / "report.html").exists()
    assert result.reader is not None and len(result.reader) == result.counts["n_samples"]  # for the caller's report


def test_api_score_and_the_cli_write_the_report(synth_root, preds, tmp_path):
    out = tmp_path / "api"
    result = api.score(
        Task.REC, "refcoco_val", PredictionsOptions(preds), data=DataOptions(data_root=synth_root), output=OutputOptions(out)
    )
    page = (out / "report.html").read_text()
    assert result.record.run_id in page and f"{result.counts['n_samples']} samples" in page
    out = tmp_path / "cli"
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").is_file()
    out = tmp_path / "cli-no-report"
    r = runner.invoke(
        app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-o", str(out), "--no-report"]
    )
    assert r.exit_code == 0 and not (out / "report.html").exists()


def test_a_model_runs_summary_is_printed_from_the_returned_record(synth_root, tmp_path, monkeypatch):
    """manifest.json is removed as soon as api.run_model returns: the CLI's summary line
    must come from the returned record (a re-read of the file would fail)."""
    seen = {}

    def run_then_remove_manifest(*args, **kwargs):
        result = real(*args, **kwargs)
        seen["runner"] = result.manifest.runner
        (result.out_dir / "manifest.json").unlink()
        return result

    real = api.run_model
    monkeypatch.setattr(api, "run_model", run_then_remove_manifest)
    out = tmp_path / "run"
    args = ["res", "-s", "refcoco_val", "--data-root", str(synth_root), "-m", "colour-finder", "-b", "4", "-o", str(out)]
    r = runner.invoke(app, [*args, "--no-report"])
    assert r.exit_code == 0, r.output
    info = seen["runner"]
    n = len(open_split("refcoco_val", Task.RES, data_root=synth_root))
    assert isinstance(info, RunnerInfo) and info.samples_this_attempt == n and info.world_size == 1 and not info.resumed
    assert f"run: {n} samples in {info.seconds:.1f} s" in r.output and "0 failed" in r.output
