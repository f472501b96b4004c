"""`padt-eval compare` on crafted runs: alignment, ratio metrics, p-values, warnings, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from padt_eval import api
from padt_eval.cli import app
from padt_eval.core.errors import UsageError
from tests.report.runs_fixture import rec_records, res_records, write_run

runner = CliRunner()


def test_rec_compare_cli_writes_json_and_prints(tmp_path):
    a = write_run(
        tmp_path, "a", task="rec", split="refcoco_val", records=rec_records([0.9] * 30 + [0.2] * 10), model={"name": "A"}
    )
    b = write_run(
        tmp_path, "b", task="rec", split="refcoco_val", records=rec_records([0.9] * 38 + [0.2] * 2), model={"name": "B"}
    )
    r = runner.invoke(app, ["compare", str(a), str(b), "--resamples", "2000"])
    assert r.exit_code == 0, r.output
    assert "acc@0.5" in r.output and "+20.00" in r.output and "McNemar exact" in r.output
    doc = json.loads((tmp_path / "comparisons" / "a__vs__b.json").read_text())
    e = doc["metrics"]["acc@0.5"]
    assert e["a"] == 0.75 and e["b"] == 0.95 and e["diff"] == pytest.approx(0.2)
    assert e["discordant"] == {"a_only": 0, "b_only": 8}
    assert e["p_value"] == pytest.approx(2 / 2**8)  # exact McNemar, 8 discordant pairs all one way
    assert e["ci95"][0] > 0 and e["ci95"][1] <= 0.2 + 0.2
    assert doc["metrics"]["mean_iou"]["test"] == "paired permutation"
    assert doc["n_shared"] == 40 and doc["warnings"] == []
    assert doc["resamples"] == 2000 and doc["seed"] == 0


def test_res_ciou_is_recomputed_from_intersections_and_unions(tmp_path):
    rng = np.random.default_rng(0)
    u = rng.integers(50, 5000, 60)
    ia = (u * rng.uniform(0.2, 0.9, 60)).astype(int)
    ib = np.minimum(u, ia + rng.integers(0, 200, 60))
    a = write_run(
        tmp_path,
        "a",
        task="res",
        split="refcoco_val",
        records=res_records(list(zip(ia.tolist(), u.tolist()))),
        model={"name": "A"},
    )
    b = write_run(
        tmp_path,
        "b",
        task="res",
        split="refcoco_val",
        records=res_records(list(zip(ib.tolist(), u.tolist()))),
        model={"name": "B"},
    )
    doc, _ = api.compare(a, b, resamples=1000)
    e = doc["metrics"]["ciou"]
    assert e["a"] == pytest.approx(ia.sum() / u.sum()) and e["b"] == pytest.approx(ib.sum() / u.sum())
    assert e["diff"] > 0 and e["ci95"][0] > 0 and e["test"] == "paired permutation"
    assert doc["metrics"]["miou"]["a"] == pytest.approx(np.mean(ia / u))


def test_partial_overlap_protocols_and_inconsistent_records_warn(tmp_path):
    a = write_run(tmp_path, "a", task="rec", split="refcoco_val", records=rec_records([0.9, 0.1, 0.6, 0.7]), model={"name": "A"})
    recs = rec_records([0.8, 0.2, 0.6], prefix="")[:2] + rec_records([0.5], prefix="x")
    b = write_run(
        tmp_path,
        "b",
        task="rec",
        split="refcoco_val",
        records=recs,
        model={"name": "B"},
        protocol="padt-release",
        split_sha="other",
        metrics={"acc@0.5": 0.5, "acc@0.75": 0.0, "acc@0.9": 0.0, "mean_iou": 0.4},
    )
    doc, path = api.compare(a, b, resamples=200, out=tmp_path / "c.json")
    assert path == tmp_path / "c.json" and doc["n_shared"] == 2 and doc["n_only_a"] == 2 and doc["n_only_b"] == 1
    w = " ".join(doc["warnings"])
    assert "split files differ" in w and "scoring protocol differ" in w and "2 shared samples" in w
    assert "per-sample records give acc@0.75" in w  # metrics.json was written inconsistent on purpose


def test_release_res_ciou_against_standard_uses_a_bootstrap_p_value(tmp_path):
    recs = res_records([(10, 10), (100, 200), (0, 50)])
    a = write_run(tmp_path, "a", task="res", split="refcoco_val", records=recs, model={"name": "A"})
    rel = [{"sample_id": r["sample_id"], "status": "ok", "iou": r["iou"]} for r in recs]
    b = write_run(
        tmp_path,
        "b",
        task="res",
        split="refcoco_val",
        records=rel,
        model={"name": "A"},
        protocol="padt-release",
        metrics={"ciou": sum(r["iou"] for r in rel) / 3},
    )
    doc, _ = api.compare(a, b, resamples=500)
    assert list(doc["metrics"]) == ["ciou"]
    e = doc["metrics"]["ciou"]
    assert e["a"] == pytest.approx(110 / 260) and e["b"] == pytest.approx(0.5)
    assert e["test"].startswith("bootstrap")


def test_refusals(tmp_path):
    a = write_run(tmp_path, "a", task="rec", split="refcoco_val", records=rec_records([0.9]), model={"name": "A"})
    r = write_run(tmp_path, "r", task="res", split="refcoco_val", records=res_records([(1, 2)]), model={"name": "R"})
    with pytest.raises(UsageError, match="cannot compare a rec run with a res run"):
        api.compare(a, r)
    o = write_run(tmp_path, "o", task="rec", split="refcoco_val", records=rec_records([0.9], prefix="z"), model={"name": "O"})
    with pytest.raises(UsageError, match="share no sample id"):
        api.compare(a, o)
    res = runner.invoke(app, ["compare", str(a), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no metrics.json" in res.output


def test_ric_gp_gr_are_ratios_of_counts_and_ovd_ap_is_refused(tmp_path):
    def recs(matched):
        return [{"sample_id": str(i), "status": "ok", "n_pred": 4, "n_gt": 5, "n_matched": m} for i, m in enumerate(matched)]

    ra, rb = recs([1, 2, 3, 0] * 5), recs([3, 4, 3, 2] * 5)
    caps = {"cider_d": 1.0, "bleu4": 0.3}
    a = write_run(
        tmp_path,
        "a",
        task="ric",
        split="ric_val",
        records=ra,
        model={"name": "A"},
        metrics={**caps, "gp": 30 / 80, "gr": 30 / 100},
    )
    b = write_run(
        tmp_path,
        "b",
        task="ric",
        split="ric_val",
        records=rb,
        model={"name": "B"},
        metrics={**caps, "gp": 60 / 80, "gr": 60 / 100},
    )
    doc, _ = api.compare(a, b, resamples=500)
    assert list(doc["metrics"]) == ["gp", "gr"]  # caption scores are corpus-level: not compared
    assert doc["metrics"]["gp"]["diff"] == pytest.approx(30 / 80) and doc["metrics"]["gr"]["diff"] == pytest.approx(30 / 100)
    assert doc["warnings"] == []
    o = write_run(
        tmp_path,
        "o",
        task="ovd",
        split="coco_val2017",
        records=[{"sample_id": "1", "status": "ok"}],
        model={"name": "O"},
        metrics={"ap": 0.3},
    )
    with pytest.raises(UsageError, match="do not decompose over samples"):
        api.compare(o, o)
