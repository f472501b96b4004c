"""Scoring a predictions file is not a model run: a `padt-eval rec/res -p FILE` process,
report included and `--format` raw text included, never imports torch or transformers,
nor the runner or a model adapter (only the pure text parsers of models/coords).

Each command runs in a fresh interpreter (this test process has long imported torch);
the probe prints which heavy modules are in `sys.modules` once the command has exited.
A model run through the same probe is the control: it must show torch, or the probe
would pass whatever scoring imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions

from ..models.coords.writers import WRITERS

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers")
PROBE = """
import json, sys
HEAVY = __HEAVY__
WATCHED = json.loads(sys.argv[2]) if len(sys.argv) > 2 else []
sys.argv = ["padt-eval", *json.loads(sys.argv[1])]
from padt_eval.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code or 0
# the pure text parsers (--format) are the only part of models/ a score run may use
pure = ("padt_eval.models.coords", "padt_eval.models.text_rules")
driving = [m for m in sys.modules if m.startswith(("padt_eval.runner", "padt_eval.models.")) and not m.startswith(pure)]
watched = {"loaded": [m for m in WATCHED if m in sys.modules]} if WATCHED else {}
print("PROBE " + json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules], "driving": sorted(driving), **watched}))
""".replace("__HEAVY__", repr(HEAVY))


def _probe(args: list[str], watched: tuple[str, ...] = ()) -> dict:
    """`padt-eval ARGS` in a fresh interpreter: its exit code, the HEAVY and driving modules
    it imported, and (`loaded`) which of `watched` it imported, when any are named."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [json.dumps(args), *([json.dumps(watched)] if watched else [])]
    r = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in r.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, r.stdout + r.stderr
    return json.loads(lines[-1][len("PROBE ") :])


def _raw_qwen_file(synth_root: Path, path: Path) -> Path:
    """Raw Qwen2.5-VL text for every REC sample (its box in the default input frame)."""
    from padt_eval.scoring.raw_text import raw_text_parser

    parser = raw_text_parser("qwen2_5_vl")
    with path.open("w") as f:
        for s in open_split("refcoco_val", Task.REC, data_root=synth_root):
            text, _ = WRITERS["qwen2_5_vl"](s.objects[0].bbox, parser.frame(s.image.width, s.image.height), s.expression)
            f.write(json.dumps({"sample_id": s.sample_id, "text": text}) + "\n")
    return path


@pytest.mark.parametrize("task", ["rec", "res"])
def test_scoring_a_predictions_file_imports_neither_torch_nor_transformers(task, synth_root, tmp_path):
    preds = tmp_path / "preds.jsonl"
    make_predictions(open_split("refcoco_val", Task(task), data_root=synth_root), preds, seed=1)
    out = tmp_path / "run"
    got = _probe([task, "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(preds), "-o", str(out)])
    assert got == {"code": 0, "heavy": [], "driving": []}
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()


def test_raw_text_with_format_imports_neither(synth_root, tmp_path):
    raw = _raw_qwen_file(synth_root, tmp_path / "raw.jsonl")
    out = tmp_path / "run"
    got = _probe(
        ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(raw), "--format", "qwen2_5_vl", "-o", str(out)]
    )
    assert got == {"code": 0, "heavy": [], "driving": []}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["acc@0.5"] == 1.0  # the text was read, in its frame


def test_the_probe_sees_torch_in_a_model_run(synth_root, tmp_path):
    out = tmp_path / "run"
    args = ["res", "-s", "refcoco_val", "--data-root", str(synth_root), "--model", "colour-finder", "-o", str(out)]
    got = _probe(args + ["--device", "cpu", "--loader-workers", "0", "--no-report"])
    assert got["code"] == 0 and "torch" in got["heavy"] and "padt_eval.runner.worker" in got["driving"]
