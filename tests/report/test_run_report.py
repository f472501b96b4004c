"""The per-run HTML report: what it shows, and what it says when inputs are gone."""

from __future__ import annotations

import re
import shutil

from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.report.run_report import build_run_report

runner = CliRunner()


def _worst_section(page: str) -> str:
    return page.split('<section id="worst">')[1].split("</section>")[0]


def _imgs(page: str) -> list[str]:
    """The samples drawn in the worst-samples section (the error section draws its own)."""
    return re.findall(r'<img alt="sample ([^"]+)" src="data:image/jpeg;base64,', _worst_section(page))


def test_report_is_written_with_the_run_and_draws_the_worst_samples(scored_runs):
    _, runs = scored_runs
    for _task, run_dir in runs.items():
        page = (run_dir / "report.html").read_text()
        assert len(_imgs(page)) == 12
        assert 'data-table="metrics"' in page and "<svg" in page and 'class="hist"' in page
        assert "images could not be opened" not in page and "not drawn" not in page
        # the worst answered samples come first, lowest IoU first
        ious = [float(x) for x in re.findall(r"· IoU ([0-9.]+) ·", _worst_section(page))]
        assert ious == sorted(ious)
        # unparseable outputs are listed with their raw text
        assert 'data-table="failures"' in page and "I think it is somewhere over there." in page
        assert 'src="http' not in page and 'href="http' not in page  # self-contained


def test_missing_images_are_reported_not_fatal(scored_runs, tmp_path):
    root, runs = scored_runs
    images = root / "data" / "coco" / "train2014"
    moved = tmp_path / "images"
    shutil.move(str(images), moved)
    try:
        page = build_run_report(runs["rec"])
    finally:
        shutil.move(str(moved), images)
    assert "12 of 12 images could not be opened" in page
    assert len(_imgs(page)) == 12  # drawn on a grey canvas with the boxes


def test_missing_split_and_predictions_are_reported(scored_runs, tmp_path):
    _, runs = scored_runs
    copy = tmp_path / "run"
    shutil.copytree(runs["res"], copy)
    m = copy / "manifest.json"
    m.write_text(m.read_text().replace("split.json", "gone.json"))
    d = copy / "metrics.json"
    d.write_text(d.read_text().replace("preds.jsonl", "gone.jsonl"))
    r = runner.invoke(app, ["report", str(copy), "--worst", "3", "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    page = (tmp_path / "r.html").read_text()
    assert "images and ground truth not drawn" in page and "not on this machine" in page
    assert "raw text not available" in page
    assert len(_imgs(page)) == 3


def test_report_of_a_folder_without_results_exits_2(tmp_path):
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "no metrics.json" in r.output


def test_error_section_draws_each_miss_category_worst_first(error_runs):
    runs, expected = error_runs
    for task, counts in (("rec", expected.rec), ("res", expected.res)):
        page = (runs[task] / "report.html").read_text()
        section = page.split('<section id="errors">')[1].split("</section>")[0]
        assert set(re.findall(r'<rect data-category="(\w+)"', section)) == set(counts)
        for cat in ("wrong_object", "localization", "background", "no_object"):
            group = section.split(f'data-error-category="{cat}"')[1].split('<div class="errgroup"')[0]
            n_cards = group.count('<div class="card"')
            assert n_cards == min(4, counts[cat])
            ious = [float(x) for x in re.findall(r"· IoU ([0-9.]+) ·", group)]
            assert ious == sorted(ious)
        assert 'data-error-category="hit"' not in section and 'data-error-category="unparsed"' not in section


def test_error_section_says_when_wrong_object_was_not_computed(scored_runs):
    _, runs = scored_runs  # PaDT JSONL layout without instances_train2014.json
    page = (runs["rec"] / "report.html").read_text()
    section = page.split('<section id="errors">')[1].split("</section>")[0]
    assert "not computed" in section and "instances_train2014.json" in section
