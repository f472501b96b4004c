"""Parsers and adapters cannot receive ground truth, and do not depend on it.

1. `ModelRequest` has no field that can carry an answer.
2. No parameter of any parser, task rule, raw-text hook, generation helper or adapter
   method is typed as (or named like) a Sample / GroundTruthObject / reference.
3. Running an adapter on requests whose samples' ground truth was swapped gives the same
   output, byte for byte (it was never read).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from padt_eval.models import text_rules
from padt_eval.models.coords import FORMATS
from padt_eval.models.raw_text import RawTextParser
from padt_eval.types import GroundTruthObject, ModelRequest, Sample

FORBIDDEN_TYPES = (Sample, GroundTruthObject)
FORBIDDEN_NAMES = {"sample", "samples", "gt", "ground_truth", "target", "targets", "answer", "objects", "references", "reference", "gt_box"}


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
    for name, param in inspect.signature(fn).parameters.items():
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
    from padt_eval.models.hf import adapter, florence2, internvl, kosmos2, qwen

    classes = [adapter.HFTextBoxAdapter, qwen.Qwen25VLAdapter, qwen.VlmR1Adapter, qwen.Qwen2VLAdapter, qwen.Qwen3VLAdapter]
    classes += [internvl.InternVLAdapter, kosmos2.Kosmos2Adapter, florence2.Florence2Adapter]
    return classes, [adapter.open_image, qwen.load, internvl.load, kosmos2.load, florence2.load]


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
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if member.__module__.startswith("padt_eval"):
                functions.append(member)
    assert len(functions) > 30
    for fn in functions:
        _check_callable(fn)


def test_adapter_output_does_not_depend_on_ground_truth(tiny, demo_split):
    """Swap the ground truth between samples: the adapter's output is identical."""
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
    from padt_eval.models.loading import load_model
    from padt_eval.tasks.registry import get_task
    from padt_eval.types import Task

    adapter = load_model(str(tiny("qwen2_5_vl")), device="cpu", max_new_tokens=8)
    spec = get_task(Task.REC)
    samples = list(PadtRefcocoJsonlReader(demo_split.rec_split, demo_split.images, Task.REC))[:4]
    swapped = [dataclasses.replace(s, objects=samples[-1 - i].objects) for i, s in enumerate(samples)]
    seen = []
    orig = adapter.predict

    def spy(requests, *a):
        seen.extend(type(r) for r in requests)
        return orig(requests, *a)

    adapter.predict = spy
    runs = []
    for group in (samples, swapped):
        preds = adapter.predict([s.request(spec.prompt(adapter.family, s)) for s in group])
        runs.append([p.to_json() for p in preds])
    assert runs[0] == runs[1]
    assert set(seen) == {ModelRequest}


def test_the_signature_check_catches_a_leak():
    def leaky(text: str, sample: Sample) -> None: ...

    def typed(text: str, truth: list[GroundTruthObject] | None = None) -> None: ...

    for fn in (leaky, typed):
        with pytest.raises(AssertionError):
            _check_callable(fn)
