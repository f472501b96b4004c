"""metrics.json's `cost` (results/cost.py): the summary equals a plain recomputation from the
per-answer meta fields, a prediction without them has no cost, and the throughput is the
runner's timing per rank, summed over ranks, with each rank's device."""

from __future__ import annotations

import random

import numpy as np
import pytest

from padt_eval.core.types import ObjectPred, Prediction
from padt_eval.results.cost import CostTally, answer_cost
from padt_eval.results.manifest import RunnerInfo
from padt_eval.results.record import ModelDescription, RunRecord


def _preds(n: int, seed: int = 3) -> list[Prediction]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        objects = [ObjectPred(bbox=[0.0, 0.0, 1.0, 1.0]) for _ in range(rng.choice([0, 1, 1, 2, 5]))]
        meta = {"completion_tokens": rng.randint(1, 64), "hit_max_new_tokens": rng.random() < 0.3}
        if rng.random() < 0.8:
            meta["prompt_tokens"] = rng.randint(20, 900)
        out.append(Prediction(str(i), text="x", objects=objects, meta=meta))
    out.append(Prediction("no-cost", text="a file's line", objects=[ObjectPred(bbox=[0.0, 0.0, 1.0, 1.0])]))
    return out


def test_a_prediction_without_the_meta_fields_has_no_cost():
    assert answer_cost(Prediction("a", text="x", meta={"stopped": True})) is None
    tally = CostTally()
    tally.add([Prediction("a", text="x")])
    assert tally.annotate({"sample_id": "a"}) == {"sample_id": "a"}
    assert tally.summary() is None


def test_cost_summary_equals_a_plain_recomputation():
    preds = _preds(200)
    tally = CostTally()
    tally.add(preds[:77])
    tally.add(preds[77:])
    s = tally.summary()
    rows = [p for p in preds if "completion_tokens" in p.meta]
    gen = np.array([p.meta["completion_tokens"] for p in rows], dtype=float)
    prompt = np.array([p.meta["prompt_tokens"] for p in rows if "prompt_tokens" in p.meta], dtype=float)
    with_obj = [p for p in rows if p.objects]
    tpo = np.array([p.meta["completion_tokens"] / len(p.objects) for p in with_obj])
    hits = sum(p.meta["hit_max_new_tokens"] for p in rows)
    assert s["answers"] == len(rows) == 200
    assert s["completion_tokens"]["mean"] == pytest.approx(gen.mean(), abs=1e-4)
    assert s["completion_tokens"]["median"] == pytest.approx(np.median(gen))
    assert s["completion_tokens"]["total"] == int(gen.sum())
    assert s["prompt_tokens"]["mean"] == pytest.approx(prompt.mean(), abs=1e-4)
    assert s["prompt_tokens"]["median"] == pytest.approx(np.median(prompt))
    assert s["prompt_tokens"]["answers"] == len(prompt) < 200
    assert s["tokens_per_object"]["overall"] == pytest.approx(
        sum(p.meta["completion_tokens"] for p in with_obj) / sum(len(p.objects) for p in with_obj), abs=1e-4
    )
    assert s["tokens_per_object"]["mean"] == pytest.approx(tpo.mean(), abs=1e-4)
    assert s["tokens_per_object"]["median"] == pytest.approx(np.median(tpo), abs=1e-4)
    assert s["tokens_per_object"]["objects"] == sum(len(p.objects) for p in with_obj)
    assert s["hit_max_new_tokens"] == {"count": hits, "share": pytest.approx(hits / 200, abs=1e-4)}
    assert "throughput" not in s  # no runner: a predictions file


def test_each_record_gets_its_own_answers_cost():
    preds = _preds(20)
    tally = CostTally()
    tally.add(preds)
    for p in preds[:20]:
        c = tally.annotate({"sample_id": p.sample_id})["cost"]
        assert c["completion_tokens"] == p.meta["completion_tokens"]
        assert c["prompt_tokens"] == p.meta.get("prompt_tokens")
        assert c["objects"] == len(p.objects)
        assert c["hit_max_new_tokens"] is p.meta["hit_max_new_tokens"]
        want = p.meta["completion_tokens"] / len(p.objects) if p.objects else None
        assert c["tokens_per_object"] == (pytest.approx(want, abs=1e-4) if want is not None else None)


def _runner(per_rank: list[dict]) -> RunnerInfo:
    return RunnerInfo.from_json({"world_size": len(per_rank), "device": "cpu", "timing": {"attempt": "a1", "per_rank": per_rank}})


def test_throughput_is_per_rank_over_its_batch_loop_and_summed_over_ranks():
    ranks = [
        {
            "rank": 0,
            "data_wait_s": 1.0,
            "model_s": 8.0,
            "write_s": 1.0,
            "samples": 50,
            "generated_tokens": 900,
            "device": "GPU A",
        },
        {
            "rank": 1,
            "data_wait_s": 0.5,
            "model_s": 4.0,
            "write_s": 0.5,
            "samples": 30,
            "generated_tokens": 400,
            "device": "GPU A",
        },
    ]
    tally = CostTally()
    tally.add(_preds(5))
    t = tally.summary(_runner(ranks), scoring_seconds=0.25)
    tp = t["throughput"]
    assert [r["samples_per_s"] for r in tp["per_rank"]] == [pytest.approx(50 / 10), pytest.approx(30 / 5)]
    assert [r["generated_tokens_per_s"] for r in tp["per_rank"]] == [pytest.approx(90), pytest.approx(80)]
    assert tp["samples_per_s"] == pytest.approx(50 / 10 + 30 / 5)
    assert tp["generated_tokens_per_s"] == pytest.approx(170)
    assert tp["device"] == "GPU A" and tp["ranks"] == 2 and tp["attempt"] == "a1"
    assert t["scoring_seconds"] == 0.25


def test_a_model_run_without_token_counts_still_reports_its_throughput():
    ranks = [
        {"rank": 0, "data_wait_s": 0.0, "model_s": 2.0, "write_s": 0.0, "samples": 10, "generated_tokens": 0, "device": "CPU"}
    ]
    s = CostTally().summary(_runner(ranks))
    assert s["answers"] == 0 and "completion_tokens" not in s
    assert s["throughput"]["samples_per_s"] == 5.0 and s["throughput"]["generated_tokens_per_s"] is None


def test_the_run_record_round_trips_its_cost():
    tally = CostTally()
    tally.add(_preds(10))
    record = RunRecord("r", "rec", "s", ModelDescription({}), {}, {}, {"name": "standard"}, cost=tally.summary())
    doc = record.to_json()
    assert doc["cost"]["answers"] == 10
    assert RunRecord.from_json(doc) == record
    assert "cost" not in RunRecord("r", "rec", "s", ModelDescription({}), {}, {}, {"name": "standard"}).to_json()
