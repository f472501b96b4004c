"""Parsers and adapters cannot receive ground truth, and do not depend on it.

1. `ModelRequest` has no field that can carry an answer.
2. No parameter of any parser, task rule, raw-text hook, generation helper or adapter
   method is typed as (or named like) a Sample / GroundTruthObject / reference.
3. An adapter that records everything it receives through the runner (load arguments,
   requests, prepared inputs) holds no ground-truth value: no box, mask, caption or
   label string that the model may not see.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from padt_eval.core.types import GroundTruthObject, ModelRequest, Sample, Task
from padt_eval.models import text_rules
from padt_eval.models.base import ModelAdapter
from padt_eval.models.coords import FORMATS
from padt_eval.scoring.raw_text import RawTextParser

FORBIDDEN_TYPES = (Sample, GroundTruthObject)
FORBIDDEN_NAMES = {
    "sample",
    "samples",
    "gt",
    "ground_truth",
    "target",
    "targets",
    "answer",
    "objects",
    "references",
    "reference",
    "gt_box",
}


def _types_in(tp) -> list:
    """Every type mentioned in an annotation (Callable argument lists included)."""
    if isinstance(tp, (list, tuple)):
        return [t for item in tp for t in _types_in(item)]
    out = [tp]
    for arg in typing.get_args(tp):
        out += _types_in(arg)
    return out


def _check_callable(fn) -> None:
    hints = typing.get_type_hints(fn)
    for name, _param in inspect.signature(fn).parameters.items():
        assert name.lower() not in FORBIDDEN_NAMES, f"{fn.__qualname__}({name}) could carry ground truth"
        for t in _types_in(hints.get(name, object)):
            assert t not in FORBIDDEN_TYPES, f"{fn.__qualname__}({name}: {t}) receives ground truth"


def test_model_request_carries_no_answer():
    fields = {f.name: f.type for f in dataclasses.fields(ModelRequest)}
    assert set(fields) == {"sample_id", "task", "image", "expression", "categories", "prompt"}
    hints = typing.get_type_hints(ModelRequest)
    for name in fields:
        assert not any(t in FORBIDDEN_TYPES for t in _types_in(hints[name])), name


def _adapter_classes():
    pytest.importorskip("torch")
    from padt_eval.models.hf import adapter, florence2, internvl, kosmos2, loading, qwen

    classes = [adapter.HFTextBoxAdapter, qwen.QwenAdapter, qwen.Qwen25VLAdapter]  # every Qwen family's adapter
    classes += [internvl.InternVLAdapter, kosmos2.Kosmos2Adapter, florence2.Florence2Adapter]
    return classes, [adapter.open_image, loading.load]  # the one loader every family's entry goes through


def test_parsers_and_rules_cannot_receive_ground_truth():
    functions = [f.parse for f in FORMATS.values()] + [f.parse_masks for f in FORMATS.values() if f.parse_masks]
    functions += [text_rules.prediction_from_text, text_rules.parse_safely, RawTextParser.__call__, RawTextParser.frame]
    for fn in functions:
        _check_callable(fn)


def test_adapters_and_generation_cannot_receive_ground_truth():
    from padt_eval.models.hf import generation

    classes, functions = _adapter_classes()
    functions += [generation.greedy_generate, generation.decode_with_offsets, generation.token_logprobs]
    for cls in classes:
        for _name, member in inspect.getmembers(cls, inspect.isfunction):
            if member.__module__.startswith("padt_eval"):
                functions.append(member)
    assert len(functions) > 30
    for fn in functions:
        _check_callable(fn)


class RecordingAdapter(ModelAdapter):
    """Wraps a real adapter and keeps a text copy of everything handed to it: the load
    call's arguments, every request (all fields), every prepared input, every extra
    argument of `predict` (the runner's `predict_stream` calls it batch by batch)."""

    def __init__(self, inner, log: list[str]) -> None:
        self.inner, self.log = inner, log
        self.family, self.prompt_key, self.window = inner.family, inner.prompt_key, inner.window

    def preprocessor(self):
        prep = self.inner.preprocessor()
        if prep is None:
            return None

        def recorded(request):
            self.log.append(_text(request))
            return prep(request)

        return recorded

    def predict(self, requests, *args, **kwargs):
        self.log.append(_text([dataclasses.asdict(r) for r in requests]))
        for a in args:  # prepared inputs: image arrays and the like
            self.log.append(_text([getattr(x, "shape", x) for x in a]))
        self.log.append(_text(kwargs))
        return self.inner.predict(requests, *args, **kwargs)

    def describe(self):
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()


def _text(value) -> str:
    import json

    return json.dumps(value, default=repr, sort_keys=True)


def _needles(sample: Sample) -> set[str]:
    """Spellings of every ground-truth value of `sample` that the model may not see."""
    visible = {sample.expression or ""} | set(sample.categories or [])
    out: set[str] = set()
    for o in sample.objects:
        out.add(_text([float(v) for v in o.bbox]))
        out.update(repr(float(v)) for v in o.bbox if float(v) != int(v))  # integers collide with sizes
        if o.mask is not None:
            out.add(o.mask["counts"] if isinstance(o.mask["counts"], str) else _text(o.mask["counts"]))
        if o.label and o.label not in visible:
            out.add(o.label)
    out.update(r for r in sample.references if r)
    return {n for n in out if len(n) > 3}


def test_the_runner_hands_an_adapter_no_ground_truth(synth_root, monkeypatch, tmp_path):
    """A whole RES run (boxes and masks in the ground truth) through the runner; the
    adapter records what it receives; no ground-truth value appears in it."""
    pytest.importorskip("torch")
    from padt_eval import api
    from padt_eval.data.registry import open_split
    from padt_eval.models import loading
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    log: list[str] = []
    real_load = loading.load_model

    def recording_load(model, family=None, **options):
        log.append(_text({"model": model, "family": family, **options}))
        return RecordingAdapter(real_load(model, family, **options), log)

    monkeypatch.setattr(loading, "load_model", recording_load)
    result = api.run_model(
        Task.RES,
        "refcoco_val",
        ModelOptions("colour-finder"),
        data=DataOptions(data_root=synth_root),
        run=RunOptions(1, batch_size=4, loader_workers=0),
        output=OutputOptions(tmp_path / "run"),
    )
    samples = list(open_split("refcoco_val", Task.RES, data_root=synth_root))
    assert result.counts["n_samples"] == len(samples) > 10
    recorded = "\n".join(log)
    assert all(s.sample_id in recorded for s in samples), "the recorder did not see the run"
    needles = {n: s.sample_id for s in samples for n in _needles(s)}
    assert any(n.startswith("[") for n in needles) and len(needles) > len(samples)  # boxes and masks
    leaked = sorted((sid, n) for n, sid in needles.items() if n in recorded)
    assert not leaked, f"ground truth reached the adapter: {leaked[:5]}"


def test_requests_of_every_task_carry_none_of_their_ground_truth():
    """The runner's dataset (`worker._Samples`, what every rank feeds its adapter) on
    hand-made samples whose ground truth is distinctive: labels that are not the
    expression, captions, masks, fractional boxes."""
    from padt_eval.core.types import ImageRef, PromptKey
    from padt_eval.runner.worker import _Samples
    from padt_eval.tasks.registry import get_task

    mask = {"size": [40, 60], "counts": "PZ3Q0n0GTMASKcounts"}
    made = []
    for i, task in enumerate(Task):
        gt = GroundTruthObject(bbox=[1.25 + i, 2.75, 31.125, 20.0625], mask=mask, label=f"gt-only label {i}")
        made.append(
            Sample(
                sample_id=f"s{i}",
                task=task,
                image=ImageRef(path="img.jpg", width=60, height=40),
                expression="the thing on the left" if task in (Task.REC, Task.RES) else None,
                categories=["cat", "dog"] if task == Task.OVD else None,
                objects=[gt],
                references=[f"a golden reference caption number {i}"] if task == Task.RIC else [],
            )
        )

    class Reader:
        def get(self, sid):
            return next(s for s in made if s.sample_id == sid)

    for sample in made:
        spec = get_task(sample.task)
        seen: list[str] = []
        ds = _Samples(
            Reader(),
            [sample.sample_id],
            spec,
            PromptKey("qwen2_5_vl", "paper"),
            lambda r, seen=seen: seen.append(_text(r)) or "prepared",
        )
        request, prepared = ds[0]
        assert request.prompt and sample.sample_id  # the request carries the real prompt (an unknown key would raise)
        recorded = _text(dataclasses.asdict(request)) + "".join(seen)
        assert sample.sample_id in recorded
        leaked = [n for n in _needles(sample) if n in recorded]
        assert not leaked, f"{sample.task.value}: ground truth in the request: {leaked}"


def test_the_signature_check_catches_a_leak():
    def leaky(text: str, sample: Sample) -> None: ...

    def typed(text: str, truth: list[GroundTruthObject] | None = None) -> None: ...

    for fn in (leaky, typed):
        with pytest.raises(AssertionError):
            _check_callable(fn)
