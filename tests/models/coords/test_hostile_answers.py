"""Hostile answers (issue 25, item 4): one line of a few hundred KB that opens a tag over
and over took minutes to parse (M04: qwen2_vl 166 s at 780 KB, minigpt_v2 95 s at 234 KB,
cogvlm over 90 s at 1 MB), and scoring a predictions file holding it as long (P20).

Wall time is never asserted: each case runs in a subprocess whose `timeout` only guards
against a hang. The sizes took minutes each on the old code and take well under a second
of parsing now; the speed itself is measured in benchmarks/bench_parsers.py --doubling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HANG_GUARD_S = 240


def _run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)


# The three reported cases at sizes of minutes on the old code (39 s at 390 KB for
# qwen2_vl, 95 s at 234 KB for minigpt_v2, over 90 s at 1 MB for cogvlm), and the
# caption cleaner's nesting, read whole by each parser (no cap).
HOSTILE = {
    "qwen2_vl": "'<|object_ref_start|>' * 40_000 + '<|box_start|>(1,2),(3,4)<|box_end|>'",
    "minigpt_v2": "'<p>' * 100_000 + '{<1><2><3><4>}'",
    "cogvlm": "'[' * 1_000_000 + '[[1,2,3,4]]'",
    "internvl": "'<ref>' * 200_000 + '<box>[[1,2,3,4]]</box>'",
    "qwen3_vl": "'{' + '\"bbox_2d\": [1,2,3,4], ' * 10_000 + '}'",
}


def test_M04_hostile_answers_of_every_reported_shape_are_parsed_whole():
    code = (
        "from padt_eval.models.coords import FORMATS, Frame\n"
        "from padt_eval.core.caption_text import clean_caption\n"
        "f = Frame(640, 480)\n"
        + "".join(f"print({name!r}, len(FORMATS[{name!r}].parse({text}, f).boxes))\n" for name, text in HOSTILE.items())
        + "print('caption', repr(clean_caption('a cat ' + '[' * 50_000 + ']' * 50_000 + ' sits')))\n"
        + "print('caption', repr(clean_caption('a cat ' + '[1,2,3,4' * 20_000 + ']' * 20_000 + ' sits')))\n"
        + "print('caption', repr(clean_caption('a cat ' + '<p>' * 100_000)))\n"
    )
    r = _run(code)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == ["qwen2_vl 1", "minigpt_v2 1", "cogvlm 0", "internvl 1", "qwen3_vl 10000"]
    assert lines[5:] == ["caption 'a cat sits'", "caption 'a cat sits'", "caption 'a cat'"]


def test_P20_a_hostile_predictions_line_is_scored_with_a_note(synth_root, tmp_path):
    """P20: one hostile line in a predictions file scored with --format took minutes. Now
    the answer is read up to MAX_ANSWER_CHARS, in linear time, and the line says so."""
    from padt_eval.core.types import Task as T
    from padt_eval.data.registry import open_split

    ids = [s.sample_id for s in open_split("refcoco_val", T.REC, data_root=synth_root)]
    preds = tmp_path / "raw.jsonl"
    hostile = "<|object_ref_start|>" * 40_000  # 800 KB: 166 s for this line alone before
    with preds.open("w") as f:
        for i, sid in enumerate(ids):
            f.write(json.dumps({"sample_id": sid, "text": hostile if i == 0 else "(100,100),(500,500)"}) + "\n")
    out = tmp_path / "scored"
    r = _run(
        "from padt_eval.cli import main; import sys\n"
        f"sys.argv = ['padt-eval', 'rec', '-s', 'refcoco_val', '--data-root', {str(synth_root)!r}, '-p', {str(preds)!r},"
        f" '--format', 'qwen2_vl', '-o', {str(out)!r}, '--no-report']\n"
        "main()\n"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    first = json.loads((out / "per_sample.jsonl").read_text().splitlines()[0])
    assert first["sample_id"] == ids[0]
    assert "only the first 100,000 were read (MAX_ANSWER_CHARS)" in json.dumps(first), first
