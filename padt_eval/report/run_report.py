"""`padt-eval report RUN_DIR`: one self-contained HTML page about one run.

It shows the metrics and counts, the protocol and manifest, a histogram of per-sample
IoU, the error breakdown (a bar chart and the worst samples of each miss category), the
worst answered samples drawn (image, ground truth and predicted boxes and
masks), and the samples whose output could not be read, with their raw text. Images
are re-opened from the split the manifest names; when the split or an image cannot be
found the page says so and draws on a grey canvas instead. Everything is inline (data
URIs, SVG), so the page can be mailed or attached as it is.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from padt_eval.core import rle as rlemod
from padt_eval.core.answer_rule import select_answer
from padt_eval.core.boxes import is_finite_box
from padt_eval.core.errors import PadtEvalError
from padt_eval.core.fileio import atomic_write, sha256_file
from padt_eval.core.images import open_rgb
from padt_eval.core.types import Prediction
from padt_eval.report.alarms_view import ALARMS_CSS, alarms_section
from padt_eval.report.draw import histogram_svg, render_sample
from padt_eval.report.errors_view import errors_section
from padt_eval.report.runs import Run, load_run
from padt_eval.report.sample_selection import SampleSelection, Selector
from padt_eval.report.sweep_view import sweep_section
from padt_eval.report.tables import PAGE_CSS
from padt_eval.results.run_folder import RunFolder

MAX_TEXT = 600

# After load, count the images that decoded: a browser test reads this attribute.
_LOAD_CHECK = (
    "<script>window.addEventListener('load',function(){var im=Array.prototype.slice.call(document.images);"
    "var ok=im.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;"
    "document.body.setAttribute('data-images-loaded',ok+'/'+im.length);});</script>"
)

REPORT_CSS = """
.grid{display:flex;flex-wrap:wrap;gap:14px}.card{border:1px solid #ddd;border-radius:6px;padding:6px;width:372px}
.card img{display:block;max-width:360px}.card p{margin:4px 0;font-size:12px;white-space:normal}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font-size:12px;max-width:60em}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}dt{color:#555}dd{margin:0}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def reopen_split(run: Run, data_root: str | Path | None = None, image_root: str | Path | None = None):
    """A reader for the run's split, from the manifest (or from `data_root` by name).
    Returns (reader or None, a sentence saying why not)."""
    from padt_eval.data.registry import reopen_from_manifest

    split = run.manifest.split if run.manifest is not None else None
    return reopen_from_manifest(
        split.to_json() if split is not None else {},
        run.task,
        run.split,
        run.gt_variant,
        data_root=data_root,
        image_root=image_root,
    )


def sample_from(reader, sid: str, notes: list[str]):
    """The sample `sid` of the re-opened split (None without a reader, or with a note when
    the split has no such sample)."""
    if reader is None:
        return None
    try:
        return reader.get(sid)
    except (KeyError, PadtEvalError):
        notes.append(f"sample {sid} is not in the re-opened split")
        return None


def _drawable(d: Any) -> Prediction:
    """A predictions line the report can draw: objects with finite boxes and valid RLE masks.
    ValueError names the field (scoring checks the same file fully; this guards the drawing)."""
    if not isinstance(d, dict) or d.get("sample_id") is None:
        raise ValueError("expected a JSON object with a 'sample_id'")
    objects = d.get("objects") or []
    if not isinstance(objects, list):
        raise ValueError(f"'objects' must be a list, got {type(objects).__name__}")
    for i, o in enumerate(objects):
        if not isinstance(o, dict):
            raise ValueError(f"objects[{i}] must be an object, got {type(o).__name__}")
        if o.get("bbox") is not None and not is_finite_box(o["bbox"]):
            raise ValueError(f"objects[{i}].bbox must be four finite numbers, got {o['bbox']!r:.60}")
        why = rlemod.problem(o["mask"]) if o.get("mask") is not None else None
        if why is not None:
            raise ValueError(f"objects[{i}].mask is not a valid COCO RLE: {why}")
    if d.get("text") is not None and not isinstance(d["text"], str):
        raise ValueError("'text' must be a string")
    return Prediction.from_json(d)


#: a `"sample_id": "..."` member with a plain string value (no escapes), anywhere in a line
_ID_MEMBER = re.compile(rb'"sample_id"\s*:\s*"([^"\\]*)"')


#: bytes of whole lines scanned at a time: the file is never held whole (peak RSS)
_SCAN_BLOCK = 1 << 20


def _candidate_lines(path: Path, wanted: set[str]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of every line of the file that may hold one of the `wanted`
    ids, in file order. A report draws a few dozen of 50,000 answers: one
    regular-expression pass finds the lines whose `sample_id` is one of them as a plain
    JSON string, and only those are parsed (a superset: the parse decides). An id written
    as a number or with JSON escapes is not found that way, so when some id is found
    nowhere every line is a candidate, as before."""
    targets = {sid.encode() for sid in wanted}
    found: set[bytes] = set()
    picked: list[tuple[int, bytes]] = []
    lineno, carry = 1, b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_SCAN_BLOCK)
            block = carry + chunk
            cut = block.rfind(b"\n") + 1 if chunk else len(block)
            block, carry = block[:cut], block[cut:]
            counted_to, last_start = 0, -1
            for m in _ID_MEMBER.finditer(block):
                if m.group(1) in targets:
                    found.add(m.group(1))
                    start = block.rfind(b"\n", 0, m.start()) + 1
                    if start != last_start:  # two members on one line: the line once
                        lineno += block.count(b"\n", counted_to, start)
                        counted_to, last_start = start, start
                        end = block.find(b"\n", start)
                        picked.append((lineno, block[start : end + 1 if end >= 0 else len(block)]))
            lineno += block.count(b"\n", counted_to)
            if not chunk:
                break
    if found == targets:
        yield from picked
        return
    with open(path, "rb") as f:
        yield from enumerate(f, start=1)


def _lines_at(path: Path, offsets: dict[str, int]) -> Iterator[tuple[int | None, int, bytes]]:
    """(None, offset, line) of the lines starting at these byte offsets, in file order,
    read by seeking: the scoring that read the file knows where they are."""
    with open(path, "rb") as f:
        for at in sorted(set(offsets.values())):
            f.seek(at)
            yield None, at, f.readline()


def _line_number(path: Path, at: int) -> int:
    """The number of the line that starts at byte `at` (for a message), counted a block at
    a time (the file is never held whole)."""
    number, left = 1, at
    with open(path, "rb") as f:
        while left > 0 and (chunk := f.read(min(left, _SCAN_BLOCK))):
            number += chunk.count(b"\n")
            left -= len(chunk)
    return number


def _predictions(run: Run, wanted: set[str], offsets: dict[str, int] | None = None) -> tuple[dict[str, Prediction], str]:
    """The predictions of `wanted` sample ids from the file metrics.json names, if it is
    still there and unchanged; else ({}, why not). A line that cannot be drawn is left out,
    and the reason names its file, line and field. `offsets`: where the wanted ids' lines
    start, from the scoring that just read the file (an id without one has no line)."""
    ref = run.record.predictions
    path = Path(ref.file if ref is not None and ref.file else RunFolder(run.dir).predictions)
    if not path.is_file():
        return {}, f"predictions file {path} is not on this machine: predicted masks and raw text not shown"
    if ref is not None and ref.sha256 and sha256_file(path) != ref.sha256:
        return {}, f"predictions file {path} changed since scoring (sha256 differs): not used"
    out: dict[str, Prediction] = {}
    damaged: list[str] = []
    lines = (
        _lines_at(path, offsets)
        if offsets is not None
        else ((lineno, None, line) for lineno, line in _candidate_lines(path, wanted))
    )
    for lineno, at, line in lines:
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # scoring counted it as malformed; nothing to draw
        sid = str(d.get("sample_id")) if isinstance(d, dict) else None
        if sid in wanted and sid not in out:
            try:
                out[sid] = _drawable(d)
            except (KeyError, TypeError, ValueError) as exc:
                damaged.append(f"{path}:{lineno if lineno is not None else _line_number(path, at)}: {exc}")
    why = ""
    if damaged:
        why = f"{len(damaged)} prediction(s) not drawn, their lines are malformed: " + "; ".join(damaged[:5])
    return out, why


def _kv(d: dict[str, Any]) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(json.dumps(v) if not isinstance(v, str) else v)}</dd>" for k, v in d.items())
    return f"<dl>{items}</dl>"


def _manifest_shown(run: Run) -> dict[str, Any]:
    """What the report shows of the manifest (none when the folder has no manifest.json)."""
    doc = run.manifest.to_json() if run.manifest is not None else {}
    return {
        k: doc[k]
        for k in ("model", "split", "versions", "git", "prompt_template_hash", "command", "started", "finished")
        if k in doc
    }


def _metric_rows(run: Run) -> str:
    from padt_eval.report.table_specs import display_scale

    rows = []
    for k, v in run.record.metrics.items():
        scale = display_scale(k)
        shown = "—" if not isinstance(v, (int, float)) else (f"{100 * v:.2f}" if scale == 100 else f"{v:.3f}")
        unit = "%" if scale == 100 else ""
        rows.append(f'<tr><td class="txt">{_e(k)}</td><td class="num">{shown}</td><td class="txt">{unit}</td></tr>')
    notes = "".join(f'<p class="warn">{_e(n)}</p>' for n in run.record.notes if isinstance(n, str))
    return (
        '<table data-table="metrics"><thead><tr><th>metric</th><th class="num">value</th><th></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{notes}"
    )


def _card_stat(r: dict[str, Any]) -> str:
    if "iou" in r:
        return f"IoU {float(r['iou']):.3f}"
    parts = [f"{k[2:]} {r[k]}" for k in ("n_gt", "n_det", "n_pred", "n_matched", "n_unmapped") if k in r]
    return _e(", ".join(parts))


def _cards(run: Run, worst: list[dict[str, Any]], preds: dict[str, Prediction], reader, notes: list[str]) -> str:
    # The samples and their images are looked up here, in order (notes stay in order), and
    # the pictures drawn afterwards by `_draw_all`.
    cards, jobs = [], []
    missing_images = 0
    for r in worst:
        sid = r["sample_id"]
        sample = sample_from(reader, sid, notes)
        image, unopened = None, ""
        if sample is not None:
            try:
                image = open_rgb(sample.image)  # refuses FIFOs, devices and bombs (core/images.py)
            except PadtEvalError as exc:
                missing_images += 1
                unopened = str(exc)
        pred = preds.get(sid)
        one_answer = "iou" in r  # REC/RES: one object is the answer; OVD/RIC: all count
        if pred is not None:
            pobjs = [(o.bbox, o.mask) for o in pred.objects]
            chosen = select_answer(pred) if one_answer else None
            selected = next((i for i, o in enumerate(pred.objects) if o is chosen), None)
        else:
            pobjs = [(r.get("pred_bbox"), None)] if r.get("pred_bbox") else []
            selected = 0 if pobjs else None
        gobjs = [(o.bbox, o.mask) for o in sample.objects] if sample is not None else []
        w = sample.image.width if sample is not None else 320
        h = sample.image.height if sample is not None else 240
        jobs.append((image, w, h, gobjs, pobjs, selected, not one_answer))
        outside = sum(1 for b, _ in pobjs if b is not None and (min(b[2], w) <= max(b[0], 0) or min(b[3], h) <= max(b[1], 0)))
        expr = sample.expression if sample is not None and sample.expression else ""
        text = (pred.text or "") if pred is not None else ""
        cards.append(
            (
                f'<div class="card" data-sample="{_e(sid)}"><img alt="sample {_e(sid)}" src="',
                f'"><p><b>{_e(sid)}</b> · {_card_stat(r)} · {_e(r.get("status"))}</p>'
                + (f"<p>“{_e(expr)}”</p>" if expr else "")
                + (f"<p class='warn'>{outside} predicted box(es) lie outside the image</p>" if outside else "")
                + (f"<p class='warn'>{_e(unopened)}</p>" if unopened else "")
                + (f"<p class='muted'>{_e(text[:200])}</p>" if text else "")
                + "</div>",
            )
        )
    if missing_images:
        notes.append(f"{missing_images} of {len(worst)} images could not be opened (each card says why): drawn on a grey canvas")
    uris = _draw_all(jobs)
    return '<div class="grid">' + "".join(head + uri + tail for (head, tail), uri in zip(cards, uris)) + "</div>"


#: Threads that draw the report's pictures. One: drawing 20 pictures takes a few tenths of
#: a second, and each extra thread raised the peak RSS of a scoring run by about 3 MiB
#: (its own malloc arena; measured: 47, 51 and 57 MiB with 1, 2 and 4 threads), while
#: the pictures are the same whatever the number.
DRAWING_THREADS = 1


def _draw_all(jobs: list[tuple]) -> list[str]:
    """`render_sample` of each job, in order."""
    if DRAWING_THREADS < 2 or len(jobs) < 2:
        return [render_sample(*j[:6], all_scored=j[6]) for j in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(DRAWING_THREADS, len(jobs))) as pool:
        return list(pool.map(lambda j: render_sample(*j[:6], all_scored=j[6]), jobs))


def _failures(failures: list[dict[str, Any]], preds: dict[str, Prediction], n_total: int) -> str:
    if not failures:
        return "<p>No sample failed to parse or errored.</p>"
    rows = []
    for r in failures:
        p = preds.get(r["sample_id"])
        text = p.text if p is not None and p.text is not None else None
        shown = (
            "<span class='muted'>raw text not available</span>"
            if text is None
            else f"<pre>{_e(text[:MAX_TEXT])}{'…' if len(text) > MAX_TEXT else ''}</pre>"
        )
        rows.append(
            f'<tr><td class="txt">{_e(r["sample_id"])}</td><td class="txt">{_e(r.get("status"))}</td>'
            f'<td class="txt">{_e(r.get("reason", ""))}</td><td class="txt">{shown}</td></tr>'
        )
    more = f"<p>{n_total - len(failures)} more not listed.</p>" if n_total > len(failures) else ""
    return (
        '<table data-table="failures"><thead><tr><th>sample</th><th>status</th><th>reason</th><th>raw text</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def build_run_report(
    run_dir: str | Path,
    reader=None,
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    n_worst: int = 12,
    select: Selector | None = None,
) -> str:
    """The page. `select`: picks the samples to draw when the caller can without reading
    per_sample.jsonl (the scoring that just wrote it); otherwise the file is read, checked."""
    run = load_run(run_dir)
    notes: list[str] = []
    errors = run.record.errors
    if select is not None:
        picked = select(errors, n_worst)
    else:
        # a damaged per_sample.jsonl is a DataError naming file, line and field (exit 2)
        picked = SampleSelection.of_records(run.iter_per_sample() if run.has_per_sample else [], errors, n_worst)
        if not run.has_per_sample:
            notes.append(f"{run.dir} has no per_sample.jsonl: no histogram, no samples drawn")
    worst, how, by_category = picked.worst, picked.how, picked.by_category
    drawn_for_errors = [r for recs in by_category.values() for r in recs]
    failures = picked.failures
    preds, why = _predictions(run, {r["sample_id"] for r in worst + failures + drawn_for_errors}, picked.line_offsets)
    if why:
        notes.append(why)
    if reader is None and (worst or drawn_for_errors):
        reader, why = reopen_split(run, data_root, image_root)
        if reader is None:
            notes.append(f"images and ground truth not drawn: {why}")
    cards = _cards(run, worst, preds, reader, notes) if worst else "<p>No answered sample to rank.</p>"
    errors_html = errors_section(errors, by_category, lambda recs: _cards(run, recs, preds, reader, notes))
    ious = picked.ious
    counts = run.counts
    intro = (
        f'<p class="lead">Task <b>{_e(run.task)}</b> on <b>{_e(run.split)}</b> · model <b>{_e(run.model_name)}</b> · '
        f"protocol <b>{_e(run.protocol)}</b> · ground truth {_e(run.gt_variant)} · split hash {_e(run.split_hash)} · "
        f"{picked.n} samples</p>" + "".join(f'<p class="warn">{_e(n)}</p>' for n in notes)
    )
    sections = [
        alarms_section(run.record),
        f'<section id="metrics"><h2>Metrics</h2>{_metric_rows(run)}{_kv(counts)}</section>',
        (
            f'<section id="histogram"><h2>Per-sample IoU</h2><p class="caption">{len(ious)} samples; the red bar counts IoU = 0 '
            f"(misses, including missing and unparseable outputs).</p>{histogram_svg(ious)}</section>"
            if ious
            else ""
        ),
        sweep_section(run.record.details),
        errors_html,
        f'<section id="worst"><h2>Worst {len(worst)} answered samples ({how})</h2><p class="legend">'
        f'<span style="background:#00c800"></span>ground truth<span style="background:#e61e1e"></span>scored prediction'
        f'<span style="background:#ff9600"></span>other predicted objects</p>{cards}</section>',
        f'<section id="failures"><h2>Unreadable outputs and errors ({picked.n_failures})</h2>{_failures(failures, preds, picked.n_failures)}</section>',
        f'<section id="protocol"><h2>Protocol</h2>{_kv(run.record.protocol)}</section>',
        f'<section id="manifest"><h2>Manifest</h2>{_kv(_manifest_shown(run))}</section>',
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>padt-eval report: {_e(run.run_id)}</title><style>{PAGE_CSS}{REPORT_CSS}{ALARMS_CSS}</style></head><body>"
        f"<h1>{_e(run.run_id)}</h1>{intro}{''.join(sections)}{_LOAD_CHECK}</body></html>\n"
    )
    return page


def write_run_report(
    run_dir: str | Path,
    reader=None,
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    out: str | Path | None = None,
    n_worst: int = 12,
    select: Selector | None = None,
) -> Path:
    page = build_run_report(run_dir, reader=reader, data_root=data_root, image_root=image_root, n_worst=n_worst, select=select)
    path = Path(out) if out is not None else RunFolder(run_dir).report
    with atomic_write(path) as f:
        f.write(page)
    return path
