"""Other toolkits' prediction files, written in their own layouts from the synthetic splits.

`padt-eval import` reads these (docs/importing.md); the tests build them to check matching
and the agreement section. Each writer gives every sample a designed *case* (cycled over
the split): what the model answered and what the toolkit recorded, built so that one
reason for a disagreement shows, or none. `CASES` says, per case, the toolkit's verdict,
padt-eval's verdict and the reason the agreement must name: the expectation comes from
the design (boxes moved by known amounts), not from the code that names reasons.

The answers are written as each layout's model would: Qwen3-VL JSON (0-1000) in the
lmms-eval and evalscope files, InternVL `<box>[[…]]</box>` (0-1000) in the VLMEvalKit
sheet, decoded objects in the PaDT release's results file. The layouts themselves are
documented in `padt_eval/imports/<toolkit>.py`.
"""

from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from padt_eval.core.types import Sample

# case -> (toolkit's hit at 0.5, padt-eval's hit at 0.5, the reason named; None: they agree)
CASES: dict[str, tuple[bool, bool, str | None]] = {
    "both_correct": (True, True, None),
    "both_wrong": (False, False, None),
    "coordinate_frame": (False, True, "coordinate_frame"),
    "coordinate_frame_toolkit_right": (True, False, "coordinate_frame"),
    "toolkit_parse_missed": (False, True, "toolkit_parse_missed"),
    "padt_eval_parse_missed": (True, False, "padt_eval_parse_missed"),
    "ground_truth": (False, True, "ground_truth"),
    "rounding": (True, False, "rounding"),
    "unexplained": (False, True, "unexplained"),
    "best_of_n": (True, False, "best_of_n"),
    "best_box": (True, False, "best_box"),
}
LMMS_EVAL_CASES = (
    "both_correct",
    "coordinate_frame",
    "toolkit_parse_missed",
    "ground_truth",
    "rounding",
    "unexplained",
    "both_wrong",
)
VLMEVALKIT_CASES = (
    "both_correct",
    "coordinate_frame_toolkit_right",
    "padt_eval_parse_missed",
    "ground_truth",
    "rounding",
    "unexplained",
    "both_wrong",
)
EVALSCOPE_CASES = ("both_correct", "coordinate_frame", "toolkit_parse_missed", "best_of_n", "ground_truth", "both_wrong")
PADT_RELEASE_CASES = ("both_correct", "best_box", "both_wrong")
EVALSCOPE_PROMPT = (
    "\nBounding box coordinates are specified in the format (top-left x, top-left y, bottom-right x, bottom-right y).\n"
    "All values are floating point numbers bounded between 0 and 1. Please provide the bounding box coordinate of the "
    "region this sentence describes:\n"
)


@dataclass
class Design:
    """Which case each sample got, and the rows written that match no sample."""

    case_of: dict[str, str] = field(default_factory=dict)
    extra_rows: dict[str, int] = field(default_factory=dict)  # kind ("unmatched", "other_split") -> rows

    def expected(self) -> dict[str, tuple[bool, bool, str | None]]:
        return {sid: CASES[case] for sid, case in self.case_of.items()}


def _gt(s: Sample) -> list[float]:
    return [float(v) for v in s.objects[0].bbox]


def _norm(box: list[float], s: Sample) -> list[float]:
    w, h = s.image.width, s.image.height
    return [box[0] / w, box[1] / h, box[2] / w, box[3] / h]


def _per_mille(box: list[float], s: Sample) -> list[float]:
    return [round(v * 1000, 4) for v in _norm(box, s)]


def _shift_x(box: list[float], d: float) -> list[float]:
    return [box[0] + d, box[1], box[2] + d, box[3]]


def _away(box: list[float], s: Sample) -> list[float]:
    """A box that overlaps nothing of `box`: a few pixels in the image corner farther from it."""
    left = (box[0] + box[2]) / 2 > s.image.width / 2
    x0 = 1.0 if left else s.image.width - 4.0
    y0 = 1.0 if (box[1] + box[3]) / 2 > s.image.height / 2 else s.image.height - 4.0
    return [x0, y0, x0 + 3.0, y0 + 3.0]


def _unrelated(box: list[float], s: Sample) -> list[float]:
    """A box away from `box` whose corners are not `box`'s scaled per axis (no frame explains it)."""
    a = _away(box, s)
    return [a[0], a[1], a[2] + 1.5, a[3] + 0.5]


def _rounding_pair(gt: list[float], s: Sample) -> tuple[list[float], list[float]]:
    """(answer, the toolkit's ground truth): the answer is the box moved by a third of its
    width and a little more (IoU just under 0.5 against `gt`); the toolkit's ground truth is
    `gt` moved half a pixel the same way, against which the answer is just over 0.5. Both
    move towards the image centre, so that no parser clips the answer at the border."""
    sign = -1.0 if (gt[0] + gt[2]) / 2 > s.image.width / 2 else 1.0
    d = (gt[2] - gt[0]) / 3 + 0.1
    return _shift_x(gt, sign * d), _shift_x(gt, sign * 0.5)


def _qwen3(box_1000: list[float], label: str, sep: str = ", ") -> str:
    return '```json\n[{"bbox_2d": [' + sep.join(f"{v:g}" for v in box_1000) + f'], "label": {json.dumps(label)}}}]\n```'


def _bracket01(box: list[float], s: Sample) -> str:
    return "[" + ", ".join(f"{v:.6f}" for v in _norm(box, s)) + "] "


def _planned(samples: list[Sample], cases: tuple[str, ...]) -> tuple[Design, list[tuple[Sample, str]]]:
    """Case k mod len(cases) for sample k; the last sample gets no row (a sample without one)."""
    design = Design()
    plan = [(s, cases[k % len(cases)]) for k, s in enumerate(samples[:-1])]
    design.case_of = {s.sample_id: case for s, case in plan}
    return design, plan


def _qwen3_answer(case: str, s: Sample, label: str) -> str:
    """A Qwen3-VL answer (0-1000 JSON) for the cases the lmms-eval and evalscope files share.
    By default the box is also written first as a 0-1 list (a model echoing the prompt's
    format), which both toolkits read; `coordinate_frame` leaves it out (they then read the
    0-1000 numbers), `toolkit_parse_missed` writes valid JSON with a space before each
    comma (their regex needs `n,`), `both_wrong` answers with a box away from the object."""
    gt = _gt(s)
    if case == "coordinate_frame":
        return _qwen3(_per_mille(gt, s), label)
    if case == "toolkit_parse_missed":
        return _qwen3(_per_mille(gt, s), label, sep=" , ")
    box = _away(gt, s) if case == "both_wrong" else _rounding_pair(gt, s)[0] if case == "rounding" else gt
    return _bracket01(box, s) + _qwen3(_per_mille(box, s), label)


# --- lmms-eval ---------------------------------------------------------------------------------


def write_lmms_eval(samples: list[Sample], path: Path) -> Design:
    """`<date>_samples_refcoco_bbox_rec_val.jsonl`, as lmms-eval's tracker writes it (no `doc`)."""
    design, plan = _planned(samples, LMMS_EVAL_CASES)
    lines = []
    for doc_id, (s, case) in enumerate(plan):
        gt = _gt(s)
        label = s.meta.get("raw") or s.expression or ""
        text = _qwen3_answer(case, s, label)
        their_gt = _norm(gt, s)
        pred = _norm(gt, s)
        if case == "coordinate_frame":
            pred = _per_mille(gt, s)  # its regex reads the 0-1000 numbers as 0-1
        elif case == "toolkit_parse_missed":
            pred = [0, 0, 0, 0]
        elif case == "ground_truth":
            their_gt = _norm(_shift_x(gt, gt[2] - gt[0] + 5), s)
        elif case == "rounding":
            answer, shifted = _rounding_pair(gt, s)
            pred, their_gt = _norm(answer, s), _norm(shifted, s)
        elif case == "unexplained":
            pred = _norm(_unrelated(gt, s), s)  # a record that does not come from this text
        elif case == "both_wrong":
            pred = _norm(_away(gt, s), s)
        record = {"answer": label, "pred": pred, "ann_id": str(s.meta.get("ann_id")), "bbox": their_gt}
        line = {"doc_id": doc_id, "target": str(their_gt), "filtered_resps": text, "doc_hash": f"{doc_id:08x}"}
        line["input"] = "Please provide the bounding box coordinate of the region this sentence describes: " + label
        for metric in ("IoU", "ACC@0.1", "ACC@0.3", "ACC@0.5", "ACC@0.7", "ACC@0.9", "Center_ACC"):
            line[f"refcoco_{metric}"] = record
        lines.append(line)
    unmatched = dict(lines[0])
    unmatched.update(doc_id=len(lines), **{k: {**v, "ann_id": "999999"} for k, v in lines[0].items() if k.startswith("refcoco_")})
    lines.append(unmatched)
    design.extra_rows["unmatched"] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return design


# --- VLMEvalKit --------------------------------------------------------------------------------


def _box_str(box: list[float] | None) -> str:
    return "" if box is None else "[{:.6f}, {:.6f}, {:.6f}, {:.6f}]".format(*box)


def vlmevalkit_rows(samples: list[Sample], split_label: str = "RefCOCO_val") -> tuple[list[dict], Design]:
    """The `_detail` sheet's rows (the prediction sheet plus pred_bbox, iou, hit)."""
    from padt_eval.core.boxes import box_iou

    design, plan = _planned(samples, VLMEVALKIT_CASES)
    rows = []
    for k, (s, case) in enumerate(plan):
        gt = _gt(s)
        expr = s.expression or ""
        pm = _per_mille(gt, s)
        text = f"<ref>{expr}</ref><box>[[{', '.join(f'{v:g}' for v in pm)}]]</box>"
        their_gt, their_box, hit = gt, gt, 1
        if case == "coordinate_frame_toolkit_right":
            text = f"<ref>{expr}</ref><box>[[{', '.join(f'{v:.6f}' for v in _norm(gt, s))}]]</box>"  # 0-1 numbers
        elif case == "padt_eval_parse_missed":
            text = "The box is " + " ".join(f"{v:g}" for v in pm)  # no brackets: its "first four numbers" fallback reads it
        elif case == "ground_truth":
            their_gt, hit = _shift_x(gt, gt[2] - gt[0] + 5), 0
        elif case == "rounding":
            answer, their_gt = _rounding_pair(gt, s)
            text = f"<ref>{expr}</ref><box>[[{', '.join(f'{v:g}' for v in _per_mille(answer, s))}]]</box>"
            their_box = answer
        elif case == "unexplained":
            their_box, hit = _unrelated(gt, s), 0
        elif case == "both_wrong":
            their_box = _away(gt, s)
            text = f"<ref>{expr}</ref><box>[[{', '.join(f'{v:g}' for v in _per_mille(their_box, s))}]]</box>"
            hit = 0
        rows.append(
            {
                "index": f"{split_label}_{k}",
                "question": f"Please provide the bounding box coordinate of the region this sentence describes: <ref>{expr}</ref>",
                "answer": _box_str(gt),
                "split": split_label,
                "category": split_label.replace("_", " "),
                "width": s.image.width,
                "height": s.image.height,
                "image_id": s.meta.get("image_id"),
                "bbox_x1": their_gt[0],
                "bbox_y1": their_gt[1],
                "bbox_x2": their_gt[2],
                "bbox_y2": their_gt[3],
                "prediction": text,
                "pred_bbox": _box_str(their_box),
                "iou": box_iou(their_box, their_gt),
                "hit": hit,
            }
        )
    other = dict(rows[0], index="RefCOCO_testA_0", split="RefCOCO_testA")
    keyless = dict(rows[0], index=f"{split_label}_{len(rows)}", image_id="", question="Where is it?")
    rows += [other, keyless]
    design.extra_rows.update(other_split=1, unmatched=1)
    return rows, design


def write_tsv(rows: list[dict], path: Path) -> None:
    """pandas `to_csv(sep='\\t', quoting=csv.QUOTE_ALL)`, as VLMEvalKit's dump_tsv; the
    columns are the first row's keys."""
    columns = list(rows[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_ALL)
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r[c] is None else r[c] for c in columns])


def _column_letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s


def write_xlsx(rows: list[dict], path: Path) -> None:
    """A minimal workbook as xlsxwriter lays one out: shared strings, numbers as numbers;
    the columns are the first row's keys."""
    strings: list[str] = []
    index: dict[str, int] = {}

    def cell(ref: str, v) -> str:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f'<c r="{ref}"><v>{v!r}</v></c>'
        text = "" if v is None else str(v)
        if text not in index:
            index[text] = len(strings)
            strings.append(text)
        return f'<c r="{ref}" t="s"><v>{index[text]}</v></c>'

    columns = list(rows[0])
    table = [columns] + [[r[c] for c in columns] for r in rows]
    sheet_rows = "".join(
        f'<row r="{n}">' + "".join(cell(f"{_column_letters(i)}{n}", v) for i, v in enumerate(values)) + "</row>"
        for n, values in enumerate(table, 1)
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}"><sheetData>{sheet_rows}</sheetData></worksheet>',
        "xl/sharedStrings.xml": f'<sst xmlns="{main}">' + "".join(f"<si><t>{escape(t)}</t></si>" for t in strings) + "</sst>",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for name, xml in parts.items():
            z.writestr(name, xml)


# --- evalscope ---------------------------------------------------------------------------------


def _evalscope_score(text: str, s: Sample, their_gt_norm: list[float]) -> tuple[list[float], float]:
    """evalscope's extract_answer and bbox_rec_score_result on one answer."""
    import re

    from padt_eval.core.boxes import box_iou

    m = re.search(r"\[\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?),\s*(-?\d+(?:\.\d+)?)\s*\]", text)
    if m is None:
        return [0.0, 0.0, 0.0, 0.0], 0.0
    c = [float(m.group(i)) for i in range(1, 5)]
    if any(v > 1 for v in c):
        c = [c[0] / s.image.width, c[1] / s.image.height, c[2] / s.image.width, c[3] / s.image.height]
    return c, box_iou(c, their_gt_norm)


def write_evalscope_reviews(samples: list[Sample], path: Path) -> Design:
    """`reviews/<model>/refcoco_val.jsonl`: one ReviewResult a line (two for the best_of_n sample)."""
    design, plan = _planned(samples, EVALSCOPE_CASES)
    lines = []
    for k, (s, case) in enumerate(plan):
        gt = _gt(s)
        expr = s.expression or ""
        their_gt = _norm(_shift_x(gt, gt[2] - gt[0] + 5), s) if case == "ground_truth" else _norm(gt, s)
        if case == "best_of_n":  # a wrong first generation, a right second one
            texts = [_qwen3_answer("both_wrong", s, expr), _qwen3_answer("both_correct", s, expr)]
        else:
            texts = [_qwen3_answer(case, s, expr)]
        x, y, x2, y2 = gt
        metadata = {
            "question_id": str(s.meta.get("ann_id")),
            "iscrowd": 0,
            "file_name": f"COCO_train2014_{int(s.meta.get('image_id') or 0):012d}.jpg",
            "answer": [expr],
            "original_bbox": [x, y, x2 - x, y2 - y],
            "bbox": their_gt,
            "eval_mode": "bbox_rec",
            "image_size": [s.image.width, s.image.height],
        }
        for g, text in enumerate(texts):
            extracted, iou = _evalscope_score(text, s, their_gt)
            value = {"IoU": iou, "ACC@0.1": iou >= 0.1, "ACC@0.3": iou >= 0.3, "ACC@0.5": iou >= 0.5}
            lines.append(
                {
                    "index": k,
                    "target": str(their_gt),
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {"type": "text", "text": EVALSCOPE_PROMPT + expr},
                                {"type": "image", "image": "data:image/jpeg;base64,AAAA"},
                            ],
                        },
                        {"role": "assistant", "content": text},
                    ],
                    "sample_score": {
                        "score": {
                            "value": value,
                            "extracted_prediction": str(extracted),
                            "prediction": text,
                            "main_score_name": "bbox_rec",
                        },
                        "sample_id": k,
                        "group_id": k,
                        "generation_index": g,
                        "sample_metadata": metadata,
                    },
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return design


# --- the PaDT release ----------------------------------------------------------------------------


def write_padt_release(samples: list[Sample], path: Path) -> Design:
    """`<split>_0_pred_results_<suffix>.json`: one line per decoded object."""
    design, plan = _planned(samples, PADT_RELEASE_CASES)
    lines = []

    def obj(s: Sample, box: list[float], score: float) -> dict:
        x, y, x2, y2 = (round(v) for v in box)
        return {"image_id": s.meta.get("image_id"), "score": score, "category": s.expression, "bbox": [x, y, x2 - x, y2 - y]}

    for s, case in plan:
        gt = _gt(s)
        if case == "both_correct":
            lines.append(obj(s, gt, 0.9))
        elif case == "best_box":  # the higher-scoring object is wrong, another object is right
            lines += [obj(s, _away(gt, s), 0.9), obj(s, gt, 0.4)]
        else:
            lines.append(obj(s, _away(gt, s), 0.8))
    lines.append({"image_id": 999999, "score": 0.5, "category": "nothing here", "bbox": [1, 1, 3, 3]})
    design.extra_rows["unmatched"] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return design


def write_all(data_root: Path, out: Path, padt_jsonl_split: Path) -> dict[str, tuple[Path, Design]]:
    """Every layout, on the demo's refcoco_val (refer layout) and its PaDT JSONL split, into `out`."""
    from padt_eval.core.types import Task
    from padt_eval.data.registry import open_split

    refer = list(open_split("refcoco_val", Task.REC, data_root=data_root, require_images=False))
    padt = list(open_split(str(padt_jsonl_split), Task.REC, data_root=data_root, require_images=False))
    written: dict[str, tuple[Path, Design]] = {}
    path = out / "lmms-eval" / "20260101_000000_samples_refcoco_bbox_rec_val.jsonl"
    written["lmms-eval"] = (path, write_lmms_eval(refer, path))
    rows, design = vlmevalkit_rows(refer)
    path = out / "vlmevalkit" / "demo_RefCOCO_detail.xlsx"
    write_xlsx(rows, path)
    written["vlmevalkit"] = (path, design)
    path = out / "evalscope" / "reviews" / "demo" / "refcoco_val.jsonl"
    written["evalscope"] = (path, write_evalscope_reviews(refer, path))
    path = out / "padt-release" / f"{padt_jsonl_split.stem}_0_pred_results_demo.json"
    written["padt-release"] = (path, write_padt_release(padt, path))
    return written
