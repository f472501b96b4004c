"""The leaderboard's label-noise table: a split beside its cleaner version (`SplitSpec.cleaner_of`).

Runs are real scores of synthetic predictions on `refcoco_val` and `refcoco_val_cleaned`
(the demo RefCOCO with a random review); every difference in the table is recomputed here
with plain numpy from the runs' per_sample.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.data.split_table import SPLITS, cleaner_versions
from padt_eval.demo.data import make_predictions
from padt_eval.demo.ref_l4 import review_document
from padt_eval.demo.synthetic import make_world, write_images, write_refer
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions
from padt_eval.report.label_noise import label_noise_table
from padt_eval.report.leaderboard import build_leaderboard
from padt_eval.report.runs import find_runs
from padt_eval.report.tables import to_markdown


@pytest.fixture(scope="module")
def noise_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("noise")
    data = root / "data"
    world = make_world(10, seed=7)
    write_refer(world, data / "refcoco")
    write_images(world, data / "coco" / "train2014")
    doc, _ = review_document(world)
    flags = np.random.default_rng(3).random(len(doc["annotations"])) < 0.35
    for ann, bad in zip(doc["annotations"], flags):
        ann["caption_quality"] = 0 if bad else 1
    review = data / "ref_l4" / "refcocos_annotation_reviewed" / "refcoco_val_reviewed.json"
    review.parent.mkdir(parents=True)
    review.write_text(json.dumps(doc))
    samples = list(open_split("refcoco_val", Task.RES, data_root=data))
    # the original run answers with one perturbation, the cleaner run with another: the
    # re-annotation difference is then not zero, as for a re-drawn ground truth
    make_predictions(samples, root / "a.jsonl", seed=0)
    make_predictions(samples, root / "b.jsonl", seed=1)
    for task in (Task.REC, Task.RES):
        for split, preds in (("refcoco_val", "a"), ("refcoco_val_cleaned", "b"), ("refcoco_val_cleaned", "a")):
            model = "model-x" if preds == "b" or split == "refcoco_val" else "model-same"
            if model == "model-same":  # scores the same answers on both splits
                for s in ("refcoco_val", "refcoco_val_cleaned"):
                    out = root / "results" / f"{task.value}-{s}-same"
                    if not out.exists():
                        api.score(
                            task,
                            s,
                            PredictionsOptions(root / "a.jsonl"),
                            data=DataOptions(data_root=data),
                            output=OutputOptions(out, model),
                        )
                continue
            out = root / "results" / f"{task.value}-{split}-{preds}"
            api.score(
                task,
                split,
                PredictionsOptions(root / f"{preds}.jsonl"),
                data=DataOptions(data_root=data),
                output=OutputOptions(out, model),
            )
    return root / "results"


def _records(results: Path, name: str) -> dict[str, dict]:
    lines = (results / name / "per_sample.jsonl").read_text().splitlines()
    return {r["sample_id"]: r for r in map(json.loads, lines)}


def _ratio(recs: list[dict], num: str, den: str | None) -> float:
    n = np.array([float(r[num]) for r in recs])
    d = np.array([float(r[den]) for r in recs]) if den else np.ones(len(recs))
    return float(n.sum() / d.sum())


def test_cleaned_splits_declare_what_they_clean():
    assert "refcoco_val_cleaned" in cleaner_versions()["refcoco_val"]  # beside RefCOCO-M, where declared
    assert all(SPLITS[c].cleaner_of == o for o, cs in cleaner_versions().items() for c in cs)
    assert SPLITS["refcoco_val"].cleaner_of is None


@pytest.mark.parametrize(
    "task, metric, num, den",
    [("rec", "acc@0.5", "hit@0.5", None), ("res", "ciou", "intersection", "union"), ("res", "miou", "iou", None)],
)
def test_differences_equal_a_numpy_recount_on_the_shared_samples(noise_runs, task, metric, num, den):
    table = label_noise_table(find_runs(noise_runs), n_resamples=400)
    row = next(
        r for r in table.rows if r.cells["model"].text == "model-x" and r.cells["metric"].text == f"{task.upper()} {metric}"
    )
    orig = _records(noise_runs, f"{task}-refcoco_val-a")
    clean = _records(noise_runs, f"{task}-refcoco_val_cleaned-b")
    shared = [i for i in orig if i in clean]
    assert len(shared) == len(clean) < len(orig) and row.cells["n"].value == len(shared)
    o_all = _ratio(list(orig.values()), num, den)
    o_shared = _ratio([orig[i] for i in shared], num, den)
    c_shared = _ratio([clean[i] for i in shared], num, den)
    cells = {k: row.cells[k].value / 100 for k in ("v_original", "v_cleaner", "total", "dropped", "reannotated")}
    assert cells["v_original"] == pytest.approx(o_all, abs=1e-12)
    assert cells["v_cleaner"] == pytest.approx(c_shared, abs=1e-12)
    assert cells["total"] == pytest.approx(c_shared - o_all, abs=1e-12)
    assert cells["dropped"] == pytest.approx(o_shared - o_all, abs=1e-12)
    assert cells["reannotated"] == pytest.approx(c_shared - o_shared, abs=1e-12)
    if task == "res":  # the two runs drew their masks differently (REC's hits happen to tie on this data)
        assert cells["reannotated"] != 0
    for key in ("total", "dropped", "reannotated"):  # the interval brackets its estimate
        lo, hi = (float(x) / 100 for x in row.cells[key].text.split("[")[1].rstrip("]").split(","))
        assert lo - 1e-9 <= cells[key] <= hi + 1e-9


def test_the_same_answers_change_nothing_on_the_shared_samples(noise_runs):
    table = label_noise_table(find_runs(noise_runs), n_resamples=400)
    rows = [r for r in table.rows if r.cells["model"].text == "model-same"]
    assert {r.cells["metric"].text for r in rows} == {"REC acc@0.5", "RES ciou", "RES miou"}
    for r in rows:  # the cleaned split keeps the ground truth: the whole change is the dropped samples
        assert r.cells["reannotated"].text == "+0.00 [+0.00, +0.00]"
        assert r.cells["total"].value == pytest.approx(r.cells["dropped"].value, abs=1e-9)


def test_the_leaderboard_carries_the_table(noise_runs):
    board = build_leaderboard(noise_runs, None)
    md = "\n".join(to_markdown(t) for t in board.tables)
    assert "Label noise: original splits beside their cleaner versions" in md
    assert "refcoco_val_cleaned (refer+reviewed" in md


def test_a_damaged_per_sample_file_is_noted_and_the_rest_is_built(noise_runs, tmp_path):
    import shutil

    copy = tmp_path / "results"
    shutil.copytree(noise_runs, copy)
    (copy / "rec-refcoco_val_cleaned-b" / "per_sample.jsonl").write_text('{"sample_id": \n')
    table = label_noise_table(find_runs(copy), n_resamples=200)
    assert not any(r.cells["model"].text == "model-x" and r.cells["metric"].text.startswith("REC") for r in table.rows)
    assert any(r.cells["model"].text == "model-x" and r.cells["metric"].text == "RES ciou" for r in table.rows)
    assert any("model-x" in text and "per_sample.jsonl" in text for _, text in table.notes.items())
