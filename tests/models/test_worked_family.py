"""The worked family of docs/extending.md, built here: a parser and one entry make a new
coordinate-text family that `--format`, `padt-eval models`, detection, the help text and
scoring all know, through the same paths as a built-in family (issue 20)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from padt_eval.core.boxes import box_iou
from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.models import base
from padt_eval.models.coords import FORMATS, Frame, ParseResult, TextBox, get_format, registry
from padt_eval.models.coords.common import finish_box, make_result

# --- the parser (in the package: padt_eval/models/coords/<family>.py) ---------------------
_LOC = re.compile(r"loc\((\d+) (\d+) (\d+) (\d+)\)")


def parse(text: str, frame: Frame) -> ParseResult:
    """`loc(x1 y1 x2 y2)`, each number per-mille of the original width or height."""
    boxes = []
    for m in _LOC.finditer(text):
        raw = tuple(float(v) for v in m.groups())
        box = finish_box(
            raw[0] * frame.width / 1000,
            raw[1] * frame.height / 1000,
            raw[2] * frame.width / 1000,
            raw[3] * frame.height / 1000,
            frame,
        )
        boxes.append(TextBox(box, None, m.span(), raw))
    return make_result(boxes, [])


# --- the entry (in the package: one register_model call in models/coords/families.py) ---
ENTRY = registry.TextFamily(
    "locvlm",
    "LocVLM, the worked family of docs/extending.md",
    lambda config, name: config.get("model_type") == "locvlm" if config else "locvlm" in name.lower(),
    format=registry.TextFormat("locvlm", "loc(x1 y1 x2 y2)", "per-mille: v/1000·W", parse),
    adapter="padt_eval.models.hf.qwen:QwenAdapter",  # a Qwen2-VL fine-tune: the Qwen adapter reads its chat template
    model_classes={"qwen2_vl": "Qwen2VLForConditionalGeneration"},
    dynamic_resize=True,
)


@pytest.fixture
def locvlm(monkeypatch):
    """Registered for one test: the registries are restored afterwards."""
    base.families()  # the built-in families first, as in any process
    monkeypatch.setattr(registry, "_ENTRIES", dict(registry._ENTRIES))
    monkeypatch.setattr(base, "_FAMILIES", dict(base._FAMILIES))
    registry.register_model(ENTRY)
    yield ENTRY


def _text(box, w, h) -> str:
    """A LocVLM answer for a pixel box (rounded to per-mille, as the model would write it)."""
    x1, y1, x2, y2 = box
    return f"the object is at loc({round(x1 / w * 1000)} {round(y1 / h * 1000)} {round(x2 / w * 1000)} {round(y2 / h * 1000)})"


def test_one_entry_makes_the_family_known_everywhere(locvlm):
    from padt_eval.models.coords.help_text import family_help, format_help
    from padt_eval.models.loading import family_of

    assert get_format("locvlm").parse is parse and "locvlm" in FORMATS
    with pytest.raises(UsageError, match=r"did you mean 'locvlm'"):
        get_format("locvml")
    fam = base.get_family("locvlm")
    assert fam.output_format == "loc(x1 y1 x2 y2)" and fam.loader is not None
    assert fam.prompt_key({}).family == "locvlm" and fam.prompt_key({}).style == "native"
    assert family_of({"model_type": "locvlm"}, "x") == "locvlm" and family_of(None, "me/LocVLM-7B") == "locvlm"
    assert "locvlm" in format_help() and "locvlm" in family_help()
    fam.check_load_options({"min_pixels": 3136})  # its entry says its processor resizes
    with pytest.raises(UsageError, match="transformers only"):
        fam.check_load_options({"backend": "vllm"})


def test_models_command_lists_it(locvlm):
    from padt_eval.cli import app

    r = CliRunner().invoke(app, ["models", "-v"], env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert re.search(r"locvlm .*loc\(x1 y1 x2 y2\)", r.output)


def test_its_raw_text_is_scored_like_a_builtin_format(locvlm, synth_root, tmp_path):
    """Every other sample answers its own box, the rest a box in the wrong corner; acc@0.5
    is checked against IoUs computed here from the same boxes."""
    from padt_eval.cli import app

    samples = list(open_split("refcoco_val", Task.REC, data_root=synth_root))
    lines, hits = [], 0
    for i, s in enumerate(samples):
        w, h = s.image.width, s.image.height
        answer = list(s.objects[0].bbox) if i % 2 == 0 else [0.0, 0.0, w / 10, h / 10]
        lines.append({"sample_id": s.sample_id, "text": _text(answer, w, h)})
        read = parse(_text(answer, w, h), Frame(w, h)).boxes[0].box
        hits += box_iou(list(read), list(s.objects[0].bbox)) >= 0.5
    preds = tmp_path / "raw.jsonl"
    preds.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "run"
    args = ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "--format", "locvlm", "-o", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "metrics.json").read_text())
    assert 0 < hits < len(samples)
    assert doc["metrics"]["acc@0.5"] == pytest.approx(hits / len(samples))
    assert json.loads((out / "manifest.json").read_text())["model"]["format"] == "locvlm"


def test_it_runs_through_its_adapter_and_the_runner(locvlm, tiny, demo_split, tmp_path, monkeypatch):
    """A tiny Qwen2-VL checkpoint loaded as LocVLM: the entry's adapter and format, the
    runner, the metric. Generation is forced to LocVLM's answer for the right box, so acc@0.5
    is what the per-mille rounding leaves, computed here from the same boxes."""
    pytest.importorskip("torch")
    from padt_eval.core.types import PromptKey
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
    from padt_eval.models.loading import load_model
    from padt_eval.tasks import prompts

    from .hf.forcing import force, run_forced

    # A runnable family's prompts are the tasks' (a NATIVE entry in tasks/baseline_prompts.py).
    monkeypatch.setitem(prompts.PROMPT_TABLE, PromptKey("locvlm", "native"), {Task.REC: 'Where is "{expression}"?'})
    adapter = load_model(str(tiny("qwen2_vl")), "locvlm", device="cpu", max_new_tokens=40)
    assert adapter.family == "locvlm" and adapter.fmt is ENTRY.format
    gt = {s.sample_id: s for s in PadtRefcocoJsonlReader(demo_split.rec_split, demo_split.images, Task.REC, name="demo")}

    def answer(req):
        s = gt[req.sample_id]
        return _text(s.objects[0].bbox, s.image.width, s.image.height)

    force(adapter, lambda req: adapter.tokenizer.encode(answer(req), add_special_tokens=False))
    result = run_forced(
        monkeypatch,
        adapter,
        Task.REC,
        str(demo_split.rec_split),
        tiny("qwen2_vl"),
        tmp_path / "run",
        image_root=demo_split.images,
    )
    hits = [
        box_iou(list(parse(answer(s), Frame(s.image.width, s.image.height)).boxes[0].box), list(s.objects[0].bbox)) >= 0.5
        for s in gt.values()
    ]
    assert result.metrics["acc@0.5"] == pytest.approx(sum(hits) / len(hits))
    model = json.loads((tmp_path / "run" / "manifest.json").read_text())["model"]
    assert model["family"] == "locvlm" and model["format"] == "locvlm" and model["prompt_key"] == "locvlm:native"
