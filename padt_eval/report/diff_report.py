"""`padt-eval compare A B [C …] --html OUT`: one self-contained page about where runs differ.

It holds the paired statistics `compare` computed (each run against A), then the samples
whose outcomes differ (`diff_set.py`), largest score spread first, each with the ground
truth and every run's answer in its own colour and the raw text under it, and filters
(only one run hits, all missed, all hit, one miss category) that work in the browser.

Size: every disagreement is in the page as a few hundred bytes of JSON (raw text cut to
`TEXT_LISTED` characters), and the browser builds only the current page of cards. The
pictures are what weighs: the first `draw` samples of the ranking and the first
`PER_GROUP` of each filter group get a drawing of their image (JPEG data URI); the others
show their boxes on a grey canvas (inline SVG, drawn by the page). docs/reports.md gives
the size at 10,000 samples (benchmarks/bench_diff_report.py).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from padt_eval.core.answer_rule import select_answer
from padt_eval.core.errors import PadtEvalError
from padt_eval.core.fileio import atomic_write
from padt_eval.core.images import open_rgb
from padt_eval.core.types import Prediction
from padt_eval.report.diff_draw import RunAnswer, render_diff, run_colour, vrt_cells
from padt_eval.report.diff_page import DIFF_CSS, DIFF_JS
from padt_eval.report.diff_set import DiffSet, build_diff_set, score_name
from padt_eval.report.errors_view import CATEGORY_LABELS
from padt_eval.report.run_report import _predictions, reopen_split, sample_from
from padt_eval.report.runs import Run, load_run
from padt_eval.report.table_specs import display_scale
from padt_eval.report.tables import PAGE_CSS

DEFAULT_DRAW = 100
PER_GROUP = 6
PAGE_SIZE = 20
TEXT_DRAWN = 600
TEXT_LISTED = 160
MAX_OBJECTS = 50  # OVD/RIC: the objects drawn per run and sample
ONE_ANSWER_TASKS = ("rec", "res")  # one scored object per query; elsewhere every object counts


def _e(x: Any) -> str:
    return html.escape(str(x))


def run_label(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"R{i + 1}"


def group_label(key: str, labels: list[str]) -> str:
    two = len(labels) == 2
    if key.startswith("only:"):
        return f"{labels[int(key[5:])]}-only hits"
    if key == "none":
        return "both missed" if two else "all missed"
    if key == "all":
        return "both hit (scores differ)" if two else "all hit (scores differ)"
    cat = key[len("error:") :]
    return f"miss: {CATEGORY_LABELS.get(cat, cat)}"


def _clip(text: str | None, n: int) -> str | None:
    if text is None:
        return None
    return text if len(text) <= n else text[:n] + "…"


def _answer(run: Run, pred: Prediction | None, rec: dict[str, Any], colour: str, w: int, h: int) -> RunAnswer:
    """The objects a run is scored on for one sample, with the VRT cells of PaDT answers."""
    if pred is None:  # predictions file gone: the record's scored box, if it kept one
        box = rec.get("pred_bbox")
        return RunAnswer(colour, boxes=[box] if box else [])
    if run.task in ONE_ANSWER_TASKS:
        chosen = select_answer(pred)
        picked = [(i, o) for i, o in enumerate(pred.objects) if o is chosen]
    else:
        picked = list(enumerate(pred.objects[:MAX_OBJECTS]))
    patches, grid = pred.meta.get("vrt_patches"), pred.meta.get("vrt_grid_hw")
    cells = []
    if isinstance(patches, list) and isinstance(grid, list) and len(grid) == 2:
        for i, _ in picked:
            if i < len(patches) and isinstance(patches[i], list):
                cells += vrt_cells(patches[i], grid, w, h)
    return RunAnswer(
        colour,
        boxes=[o.bbox for _, o in picked if o.bbox is not None],
        masks=[o.mask for _, o in picked if o.mask is not None],
        vrt_cells=cells,
    )


def _to_draw(ds: DiffSet, draw: int) -> set[str]:
    """The first `draw` of the ranking and the first PER_GROUP of each group."""
    chosen = {s.sample_id for s in ds.samples[:draw]}
    for g in ds.group_counts:
        chosen.update([s.sample_id for s in ds.samples if g in s.groups][:PER_GROUP])
    return chosen


def _r(b) -> list[float]:
    return [round(float(v), 1) for v in b]


def _entries(runs: list[Run], ds: DiffSet, draw: int, reader, notes: list[str]) -> tuple[list[dict], list[str]]:
    wanted = {s.sample_id for s in ds.samples}
    preds = []
    for label, run in zip((run_label(i) for i in range(len(runs))), runs):
        p, why = _predictions(run, wanted)
        if why:
            notes.append(f"run {label}: {why}")
        preds.append(p)
    records = [{str(r["sample_id"]): r for r in run.per_sample} for run in runs]
    drawn = _to_draw(ds, draw)
    entries, images = [], []
    missing_images = 0
    not_found: list[str] = []  # one note per sample could outweigh the page: summed up below
    for s in ds.samples:
        sid = s.sample_id
        sample = sample_from(reader, sid, not_found)
        w = sample.image.width if sample is not None else 320
        h = sample.image.height if sample is not None else 240
        gt = [(o.bbox, o.mask) for o in sample.objects] if sample is not None else []
        answers = [_answer(run, preds[i].get(sid), records[i][sid], run_colour(i), w, h) for i, run in enumerate(runs)]
        img = -1
        if sid in drawn:
            image = None
            if sample is not None:
                try:
                    image = open_rgb(sample.image)
                except PadtEvalError:
                    missing_images += 1
            images.append(render_diff(image, w, h, gt, answers))
            img = len(images) - 1
        limit = TEXT_DRAWN if img >= 0 else TEXT_LISTED
        expr = sample.expression or (sample.references[0] if sample.references else "") if sample is not None else ""
        entries.append(
            {
                "id": sid,
                "e": _clip(expr, 200),
                "d": round(s.spread, 4),
                "s": [round(o.score, 4) for o in s.outcomes],
                "h": [int(o.hit) for o in s.outcomes],
                "st": [o.status for o in s.outcomes],
                "er": [", ".join(CATEGORY_LABELS.get(c, c) for c in o.errors) for o in s.outcomes],
                "t": [_clip(p.get(sid).text if p.get(sid) is not None else None, limit) for p in preds],
                "g": s.groups,
                "img": img,
                "W": w,
                "H": h,
                "gt": [_r(b) for b, _ in gt if b is not None],
                "b": [[_r(b) for b in a.boxes] for a in answers],
            }
        )
    if not_found:
        notes.append(not_found[0] + (f" (and {len(not_found) - 1} more samples)" if len(not_found) > 1 else ""))
    if missing_images:
        notes.append(f"{missing_images} image(s) could not be opened: drawn on a grey canvas")
    return entries, images


def _num(v: float, scale: int) -> str:
    return f"{100 * v:.2f}" if scale == 100 else f"{v:.4f}"


def _stats(doc: dict[str, Any], la: str, lb: str) -> str:
    rows = []
    for m, e in doc["metrics"].items():
        k = display_scale(m)
        lo, hi = e["ci95"]
        rows.append(
            f'<tr><td class="txt">{_e(m)}</td><td class="num">{_num(e["a"], k)}</td><td class="num">{_num(e["b"], k)}</td>'
            f'<td class="num">{_num(e["diff"], k)}</td><td class="num">[{_num(lo, k)}, {_num(hi, k)}]</td>'
            f'<td class="num">{e["p_value"]:.4g}</td><td class="txt">{_e(e["test"])}</td></tr>'
        )
    for c, e in ((doc.get("errors") or {}).get("categories") or {}).items():
        lo, hi = e["ci95"]
        rows.append(
            f'<tr><td class="txt">share: {_e(CATEGORY_LABELS.get(c, c))}</td><td class="num">{_num(e["a"], 100)}</td>'
            f'<td class="num">{_num(e["b"], 100)}</td><td class="num">{_num(e["diff"], 100)}</td>'
            f'<td class="num">[{_num(lo, 100)}, {_num(hi, 100)}]</td><td class="num">{e["p_value"]:.4g}</td>'
            f'<td class="txt">{_e(e["test"])}</td></tr>'
        )
    warns = [*doc.get("warnings", []), *((doc.get("errors") or {}).get("warnings") or [])]
    return (
        f"<h3>{_e(lb)} − {_e(la)} on {doc['n_shared']} shared samples</h3>"
        f'<table data-table="paired-{_e(lb)}"><thead><tr><th>metric</th><th class="num">{_e(la)}</th>'
        f'<th class="num">{_e(lb)}</th><th class="num">{_e(lb)} − {_e(la)}</th><th class="num">95 % interval</th>'
        f'<th class="num">p</th><th>test</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        + "".join(f'<p class="warn">{_e(w)}</p>' for w in warns)
        + f'<p class="caption">{doc["resamples"]:,} resamples, seed {doc["seed"]}; values in % for rates.</p>'
    )


def build_diff_report(
    run_dirs: list[str | Path],
    comparisons: list[dict[str, Any]],
    notes: list[str] | None = None,
    reader=None,
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    draw: int = DEFAULT_DRAW,
    page_size: int = PAGE_SIZE,
) -> str:
    """The page. `comparisons`: `compare_runs` of run 0 against each other run (where the
    task's metrics decompose per sample); `notes`: sentences the page shows at the top."""
    runs = [load_run(d) for d in run_dirs]
    notes = list(notes or [])
    ds = build_diff_set(runs)
    labels = [run_label(i) for i in range(len(runs))]
    if reader is None:
        reader, why = reopen_split(runs[0], data_root, image_root)
        if reader is None:
            notes.append(f"images and ground truth not drawn: {why}")
    entries, images = _entries(runs, ds, draw, reader, notes)
    data = {
        "runs": [{"label": lab, "colour": run_colour(i), "name": r.model_name} for i, (lab, r) in enumerate(zip(labels, runs))],
        "score": score_name(runs[0].task),
        "pageSize": page_size,
        "samples": entries,
        "images": images,
    }
    # no "<" at all inside the script element ("</script>", "<!--" in a model's text would
    # end or bend it): in JSON, "<" only occurs inside strings, where \u003c means the same
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    legend = '<p class="legend"><span class="sw" style="background:#00c800"></span>ground truth' + "".join(
        f'<span class="sw" style="background:{run_colour(i)}"></span>{_e(lab)}: {_e(r.model_name)}'
        for i, (lab, r) in enumerate(zip(labels, runs))
    )
    legend += " · filled squares: the image patches a PaDT answer's VRTs point at</p>"
    run_rows = "".join(
        f'<tr><td class="txt"><span class="sw" style="background:{run_colour(i)}"></span>{_e(lab)}</td>'
        f'<td class="txt">{_e(r.model_name)}</td><td class="txt">{_e(r.run_id)}</td><td class="txt">{_e(r.protocol)}</td>'
        f'<td class="num">{len(r.per_sample)}</td><td class="num">{ds.n_missing[i]}</td><td class="txt">{_e(r.dir)}</td></tr>'
        for i, (lab, r) in enumerate(zip(labels, runs))
    )
    buttons = f'<button data-filter="*" data-count="{len(ds.samples)}">all differing ({len(ds.samples)})</button>' + "".join(
        f'<button data-filter="{_e(k)}" data-count="{n}"{" disabled" if n == 0 else ""}>{_e(group_label(k, labels))} ({n})</button>'
        for k, n in ds.group_counts.items()
    )
    stats = "".join(_stats(doc, labels[0], labels[i + 1]) for i, doc in enumerate(comparisons) if doc is not None)
    first = runs[0]
    intro = (
        f'<p class="lead">Task <b>{_e(first.task)}</b> on <b>{_e(first.split)}</b> · {len(runs)} runs · '
        f"{ds.n_shared} samples scored by every run · <b>{len(ds.samples)}</b> where their outcomes differ "
        f"(status, {_e(score_name(first.task))} or miss category), largest {_e(score_name(first.task))} spread first</p>"
        + "".join(f'<p class="warn">{_e(n)}</p>' for n in notes)
    )
    sections = [
        f'<section id="runs"><h2>Runs</h2><table data-table="runs"><thead><tr><th>run</th><th>model</th><th>run id</th>'
        f'<th>protocol</th><th class="num">samples</th><th class="num">not in this run</th><th>folder</th></tr></thead>'
        f"<tbody>{run_rows}</tbody></table></section>",
        f'<section id="paired"><h2>Paired statistics</h2>{stats or "<p>No metric of this task decomposes per sample.</p>"}</section>',
        f'<section id="samples"><h2>Samples where the runs differ</h2>{legend}'
        f'<p class="caption">A hit is {_e(score_name(first.task))} ≥ 0.5 (the record\'s hit@0.5 where it has one). '
        f"The first {min(draw, len(ds.samples))} samples and the first {PER_GROUP} of each filter are drawn on their "
        "image; the others show their boxes on a grey canvas.</p>"
        f'<div class="filters">{buttons}</div><p id="shown" class="caption"></p><div id="cards" class="grid"></div>'
        '<div class="pager"><button id="prev">← previous</button><button id="next">next →</button></div></section>',
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>padt-eval diff: {_e(' vs '.join(r.run_id for r in runs))}</title><style>{PAGE_CSS}{DIFF_CSS}</style></head>"
        f"<body><h1>Diff of {len(runs)} runs</h1>{intro}{''.join(sections)}"
        f'<script type="application/json" id="diff-data">{payload}</script><script>{DIFF_JS}</script></body></html>\n'
    )


def write_diff_report(run_dirs: list[str | Path], out: str | Path, comparisons: list[dict[str, Any]], **kwargs) -> Path:
    page = build_diff_report(run_dirs, comparisons, **kwargs)
    path = Path(out)
    with atomic_write(path) as f:
        f.write(page)
    return path
