"""Where the toolkit and padt-eval call a sample differently, and why.

Compared: every matched sample for which the toolkit recorded (or its own rule gives) a
verdict at IoU 0.5, against padt-eval's `hit@0.5` from the same run's `per_sample.jsonl`.
For each sample the two call differently, the first reason that the two records show is
named (boxes compared within `PIXEL` pixels, in original-image pixels):

* `ground_truth`: the toolkit scored against another box than the split's (another
  annotation file, or another conversion of it);
* `best_of_n`: the toolkit's verdict is its best over several generations of the
  sample; padt-eval scores the first;
* `toolkit_parse_missed` / `padt_eval_parse_missed`: one side read a box from the
  answer, the other none;
* `best_box`: the toolkit scored a box of the answer other than the one padt-eval's
  answer rule picks (the first, or the highest-scoring);
* `rounding`: the same box against the same ground truth, up to a pixel: a rounding
  of boxes or of the IoU decides;
* `coordinate_frame`: the toolkit's box is padt-eval's scaled per axis: it read the
  same numbers in another frame (the ratio is given);
* `unexplained`: none of these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from padt_eval.core.types import Box, Sample
from padt_eval.imports.matching import Matching
from padt_eval.imports.padt_release import release_view
from padt_eval.imports.rows import ImportedFile, ImportedRow, ToolkitView

PIXEL = 1.0
REASONS = {
    "ground_truth": "the toolkit scored against another ground-truth box",
    "best_of_n": "the toolkit kept its best of several generations; padt-eval scores the first",
    "toolkit_parse_missed": "padt-eval read a box from the answer; the toolkit read none",
    "padt_eval_parse_missed": "the toolkit read a box from the answer; padt-eval's --format read none",
    "best_box": "the toolkit scored another box of the answer than the one padt-eval's answer rule picks",
    "rounding": "the same box and ground truth up to a pixel: rounding decides",
    "coordinate_frame": "the toolkit read the same numbers in another coordinate frame",
    "unexplained": "none of the reasons above shows in the two records",
}

#: every box padt-eval's --format reads from a text, in original pixels (None: unreadable)
AllBoxes = Callable[[Sample, str], "list[Box] | None"]


def _close(a: Box | None, b: Box | None, tol: float = PIXEL) -> bool:
    return a is not None and b is not None and all(abs(x - y) <= tol for x, y in zip(a, b))


def _axis_scale(lo: float, hi: float, ref_lo: float, ref_hi: float) -> float | None:
    """The factor s with (lo, hi) = s·(ref_lo, ref_hi) within a pixel, if there is one."""
    if ref_hi == 0:
        return None
    s = hi / ref_hi
    return s if abs(lo - s * ref_lo) <= PIXEL and abs(hi - s * ref_hi) <= PIXEL else None


def _scaled(theirs: Box, ours: Box) -> tuple[float, float] | None:
    sx = _axis_scale(theirs[0], theirs[2], ours[0], ours[2])
    sy = _axis_scale(theirs[1], theirs[3], ours[1], ours[3])
    if sx is None or sy is None or (abs(sx - 1) < 0.01 and abs(sy - 1) < 0.01):
        return None
    return sx, sy


def _fmt(box: Box | None) -> str:
    return "none" if box is None else "[" + ", ".join(f"{v:.1f}" for v in box) + "]"


def name_reason(
    sample: Sample, view: ToolkitView, ours: Box | None, our_all: list[Box] | None, best_of_n: bool = False
) -> tuple[str, str]:
    w, h = sample.image.width, sample.image.height
    gt = sample.objects[0].bbox
    their_gt = view.in_pixels(view.gt_box, w, h)
    theirs = view.in_pixels(view.box, w, h)
    if their_gt is not None and not _close(their_gt, gt):
        return "ground_truth", f"its ground truth {_fmt(their_gt)} against the split's {_fmt(gt)}"
    if best_of_n:
        return "best_of_n", "its first generation calls it as padt-eval does; a later one decides its verdict"
    if theirs is None and ours is not None:
        return "toolkit_parse_missed", f"padt-eval read {_fmt(ours)}; the toolkit ({view.frame}) read no box"
    if ours is None and theirs is not None:
        return "padt_eval_parse_missed", f"the toolkit read {_fmt(theirs)}; padt-eval's --format read no box"
    if theirs is None or ours is None:
        return "unexplained", "neither side read a box, yet their verdicts differ"
    if not _close(theirs, ours) and any(_close(theirs, b) for b in our_all or []):
        return "best_box", f"the toolkit scored {_fmt(theirs)}, another box of the answer; padt-eval's rule picks {_fmt(ours)}"
    if _close(theirs, ours):
        return "rounding", f"boxes {_fmt(theirs)} and {_fmt(ours)} agree within a pixel against the same ground truth"
    scale = _scaled(theirs, ours)
    if scale is not None:
        return (
            "coordinate_frame",
            f"its box {_fmt(theirs)} is padt-eval's ×{scale[0]:.3g} in x, ×{scale[1]:.3g} in y ({view.frame})",
        )
    return "unexplained", f"its box {_fmt(theirs)}, padt-eval's {_fmt(ours)}"


def _view_of(
    imported: ImportedFile, sample: Sample, rows: list[ImportedRow], answer: list[ImportedRow]
) -> tuple[ToolkitView | None, bool]:
    """The toolkit's view of a sample and whether its verdict is a best over generations."""
    if imported.grouped_objects:
        return release_view(sample, [o for r in rows for o in (r.objects or [])]), False
    views = [r.view for r in rows if r.view is not None and r.view.hit is not None]
    if not views:
        return None, False
    first = next((r.view for r in answer if r.view is not None), views[0])
    if len(views) > 1:  # generations: the toolkit's best over them
        best = any(v.hit for v in views)
        best_iou = max((v.iou for v in views if v.iou is not None), default=None)
        view = ToolkitView(best, best_iou, first.box, first.gt_box, first.units, first.frame, first.verdict_source)
        return view, first.hit != best
    return first, False


def agreement(
    imported: ImportedFile,
    matching: Matching,
    samples: dict[str, Sample],
    records: dict[str, dict[str, Any]],
    all_boxes: AllBoxes | None,
) -> dict[str, Any] | None:
    """The agreement section, or None when the file holds no verdict of the toolkit."""
    counts: Counter = Counter()
    reasons: Counter = Counter()
    differences: list[dict[str, Any]] = []
    source = frame = ""
    not_compared = 0
    for sid, rows in matching.rows_by_sample.items():
        sample, rec = samples[sid], records.get(sid)
        answer = matching.answer_rows(sid)
        view, from_generations = _view_of(imported, sample, rows, answer)
        if view is None or view.hit is None or rec is None:
            not_compared += 1
            continue
        source, frame = source or view.verdict_source, frame or view.frame
        ours_hit = bool(rec.get("hit@0.5"))
        counts[(view.hit, ours_hit)] += 1
        if view.hit == ours_hit:
            continue
        ours = rec.get("pred_bbox")
        if imported.grouped_objects:
            objects = [o for r in answer for o in (r.objects or [])]
            our_all = [o.bbox for o in objects if o.bbox is not None]
        else:
            text = answer[0].text if answer else None
            our_all = all_boxes(sample, text) if (all_boxes is not None and text is not None) else None
        reason, detail = name_reason(sample, view, ours, our_all, from_generations)
        reasons[reason] += 1
        differences.append(
            {
                "sample_id": sid,
                "row": answer[0].where if answer else rows[0].where,
                "toolkit_hit": view.hit,
                "padt_eval_hit": ours_hit,
                "toolkit_iou": view.iou,
                "padt_eval_iou": rec.get("iou"),
                "reason": reason,
                "detail": detail,
            }
        )
    n = sum(counts.values())
    if n == 0:
        return None
    return {
        "toolkit": imported.toolkit,
        "toolkit_verdict": source,
        "toolkit_frame": frame,
        "threshold": 0.5,
        "n_compared": n,
        "n_not_compared": not_compared,
        "both_correct": counts[(True, True)],
        "both_wrong": counts[(False, False)],
        "only_toolkit": counts[(True, False)],
        "only_padt_eval": counts[(False, True)],
        "toolkit_acc@0.5": (counts[(True, True)] + counts[(True, False)]) / n,
        "padt_eval_acc@0.5": (counts[(True, True)] + counts[(False, True)]) / n,
        "reasons": dict(reasons),
        "reason_meanings": {k: REASONS[k] for k in reasons},
        "differences": differences,
    }
