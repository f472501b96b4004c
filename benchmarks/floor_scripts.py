"""The anchors and floors `bench_floor.py` times against `padt-eval` itself.

Each is a small script that reads the same split and predictions files and prints the
same headline numbers padt-eval writes to metrics.json (as one JSON line), so that the
harness can check that all three agree before it compares their times:

* **anchor**: the way the field scores the task today: the PaDT release's REC logic
  (stdlib `json`, a Python IoU per sample), its RES logic streamed (decode both masks,
  compare arrays; `bench_rec_res.reference_scoring`), faster-coco-eval's standard use for
  OVD (`COCO(file)`, `loadRes`, evaluate / accumulate / summarize; `--pycocotools`: the
  same with pycocotools), pycocoevalcap's standard use for RIC (the `COCOEvalCap` order:
  tokenise each side, then BLEU, METEOR, ROUGE-L and CIDEr-D one after the other);
* **floor**: the least work with the same libraries that gives the same numbers, with
  no validation, no per-sample records and no report: orjson and numpy for REC, pycocotools'
  RLE merge and area for RES, faster-coco-eval handed the parsed dicts for OVD,
  pycocoevalcap's scorers with both tokeniser runs and METEOR in parallel for RIC.

Usage (the harness runs these in fresh processes): python benchmarks/floor_scripts.py
{anchor,floor,pycocotools} {rec,res,ovd,ric} SPLIT PREDICTIONS
"""

from __future__ import annotations

import json
import math
import sys
import threading
from pathlib import Path

THRESHOLDS = (0.5, 0.75, 0.9)


# -- REC -------------------------------------------------------------------------------
def _rec_numbers(ious: list[float]) -> dict[str, float]:
    n = len(ious)
    out = {f"acc@{t:g}": sum(1 for v in ious if v >= t) / n for t in THRESHOLDS}
    out["mean_iou"] = math.fsum(ious) / n
    return out


def _first_box(objects: list[dict]):
    """The answer rule on a line's objects: the highest score when all are scored, else the first."""
    if not objects:
        return None
    scores = [o.get("score") for o in objects]
    best = 0
    if all(s is not None for s in scores):
        for i, s in enumerate(scores):
            if s > scores[best]:
                best = i
    return objects[best].get("bbox")


def rec_anchor(split: Path, preds: Path) -> dict:
    """PaDT's eval_refcoco.py REC loop, on the standard protocol's answer: load every line
    with `json`, a dict of predictions, a Python IoU per sample."""
    gts = [json.loads(line) for line in open(split)]
    pr = {}
    for line in open(preds):
        d = json.loads(line)
        pr.setdefault(str(d["sample_id"]), d)
    ious = []
    for i, g in enumerate(gts):
        h, w = g["objects"][0]["rle"]["size"]
        x1, y1, x2, y2 = g["objects"][0]["bbox"]
        gb = [x1 * w, y1 * h, x2 * w, y2 * h]
        p = pr.get(str(i))
        b = _first_box(p.get("objects", [])) if p else None
        if b is None:
            ious.append(0.0)
            continue
        iw = min(b[2], gb[2]) - max(b[0], gb[0])
        ih = min(b[3], gb[3]) - max(b[1], gb[1])
        inter = max(0.0, iw) * max(0.0, ih)
        union = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) + max(0.0, gb[2] - gb[0]) * max(0.0, gb[3] - gb[1]) - inter
        ious.append(inter / union if union > 0 else 0.0)
    return _rec_numbers(ious)


def rec_floor(split: Path, preds: Path) -> dict:
    """orjson into arrays, one numpy IoU over all samples."""
    import numpy as np
    import orjson

    with open(split, "rb") as f:
        rows = [orjson.loads(line)["objects"][0] for line in f]
    gt = np.array([o["bbox"] for o in rows], dtype=np.float64)
    hw = np.array([o["rle"]["size"] for o in rows], dtype=np.float64)
    gt *= np.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], 1)
    boxes = np.full((len(rows), 4), np.nan)
    with open(preds, "rb") as f:
        for line in f:
            d = orjson.loads(line)
            i = int(d["sample_id"])
            if 0 <= i < len(rows) and np.isnan(boxes[i, 0]):
                b = _first_box(d.get("objects", []))
                if b is not None:
                    boxes[i] = b
    iw = np.minimum(boxes[:, 2], gt[:, 2]) - np.maximum(boxes[:, 0], gt[:, 0])
    ih = np.minimum(boxes[:, 3], gt[:, 3]) - np.maximum(boxes[:, 1], gt[:, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    area = lambda b: np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)  # noqa: E731
    union = area(boxes) + area(gt) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    iou = np.nan_to_num(iou, nan=0.0)
    return {
        **{f"acc@{t:g}": float((iou >= t).mean()) for t in THRESHOLDS},
        "mean_iou": math.fsum(iou.tolist()) / len(iou),
    }


# -- RES -------------------------------------------------------------------------------
def res_anchor(split: Path, preds: Path) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_rec_res import reference_scoring

    miou, ciou = reference_scoring(split, preds)
    return {"miou": miou, "ciou": ciou}


def res_floor(split: Path, preds: Path) -> dict:
    """pycocotools on RLE: areas in batches, one intersection merge per answered sample."""
    import numpy as np
    import orjson
    from pycocotools import mask as cocomask

    with open(split, "rb") as f:
        gts = []
        for line in f:
            r = orjson.loads(line)["objects"][0]["rle"]
            gts.append({"size": r["size"], "counts": r["counts"].encode()})
    masks: list = [None] * len(gts)
    with open(preds, "rb") as f:
        for line in f:
            d = orjson.loads(line)
            i = int(d["sample_id"])
            objs = d.get("objects") or []
            if 0 <= i < len(gts) and masks[i] is None and objs and objs[0].get("mask") is not None:
                m = objs[0]["mask"]
                masks[i] = {"size": m["size"], "counts": m["counts"].encode()}
    inter_sum = union_sum = 0
    ious = []
    for s in range(0, len(gts), 255):  # pycocotools' area overflows on 256 RLEs or more under numpy 2
        g, p = gts[s : s + 255], masks[s : s + 255]
        a_g = cocomask.area(g).astype(np.int64)
        have = [k for k, m in enumerate(p) if m is not None]
        a_p = np.zeros(len(g), np.int64)
        inter = np.zeros(len(g), np.int64)
        if have:
            a_p[have] = cocomask.area([p[k] for k in have])
            inter[have] = cocomask.area([cocomask.merge([p[k], g[k]], intersect=True) for k in have])
        union = a_p + a_g - inter
        inter_sum += int(inter.sum())
        union_sum += int(union.sum())
        ious += np.where(union > 0, inter / np.maximum(union, 1), 0.0).tolist()
    return {"miou": math.fsum(ious) / len(ious), "ciou": inter_sum / union_sum if union_sum else 0.0}


# -- OVD -------------------------------------------------------------------------------
STAT_KEYS = (
    "ap",
    "ap50",
    "ap75",
    "ap_small",
    "ap_medium",
    "ap_large",
    "ar1",
    "ar10",
    "ar100",
    "ar_small",
    "ar_medium",
    "ar_large",
)


def _ovd_dets(gt: dict, preds: Path, loads) -> list[dict]:
    by_name = {c["name"]: c["id"] for c in gt["categories"]}
    dets = []
    with open(preds, "rb") as f:
        for line in f:
            d = loads(line)
            image_id = int(d["sample_id"])
            for o in d.get("objects", []):
                cid = by_name.get(o.get("label"))
                if cid is None:
                    continue
                x1, y1, x2, y2 = o["bbox"]
                dets.append(
                    {
                        "image_id": image_id,
                        "category_id": cid,
                        "bbox": [x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1)],
                        "score": o["score"],
                    }
                )
    return dets


def _ovd_eval(coco_cls, eval_cls, gt_arg, dets: list[dict]) -> dict:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls(gt_arg)
        ev = eval_cls(coco_gt, coco_gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (None if v < 0 else float(v)) for k, v in zip(STAT_KEYS, ev.stats[:12])}


def ovd_anchor(split: Path, preds: Path) -> dict:
    """faster-coco-eval as its README shows it: COCO(file), loadRes, COCOeval_faster."""
    from faster_coco_eval import COCO, COCOeval_faster

    gt = json.loads(Path(split).read_text())
    return _ovd_eval(COCO, COCOeval_faster, str(split), _ovd_dets(gt, preds, json.loads))


def ovd_pycocotools(split: Path, preds: Path) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = json.loads(Path(split).read_text())
    return _ovd_eval(COCO, COCOeval, str(split), _ovd_dets(gt, preds, json.loads))


def ovd_floor(split: Path, preds: Path) -> dict:
    """faster-coco-eval handed the parsed dicts (orjson), nothing else."""
    import orjson
    from faster_coco_eval import COCO, COCOeval_faster

    gt = orjson.loads(Path(split).read_bytes())
    return _ovd_eval(COCO, COCOeval_faster, gt, _ovd_dets(gt, preds, orjson.loads))


# -- RIC -------------------------------------------------------------------------------
def _ric_inputs(split: Path, preds: Path) -> tuple[dict, dict]:
    refs: dict[int, list[dict]] = {}
    for line in open(split):
        d = json.loads(line)
        refs.setdefault(int(d["id"]), []).append({"caption": d["answer_template"]})
    cands = {}
    for line in open(preds):
        d = json.loads(line)
        cands.setdefault(int(d["sample_id"]), [{"caption": d.get("text") or ""}])
    ids = sorted(refs)
    return {i: refs[i] for i in ids}, {i: cands.get(i, [{"caption": ""}]) for i in ids}


def _ric_numbers(bleu, meteor, rouge, cider) -> dict:
    return {
        **{f"bleu{k + 1}": float(v) for k, v in enumerate(bleu)},
        "meteor": float(meteor),
        "rouge_l": float(rouge),
        "cider_d": float(cider),
    }


def ric_anchor(split: Path, preds: Path) -> dict:
    """pycocoevalcap's COCOEvalCap.evaluate, step by step: tokenise, then each scorer in turn."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    gts, res = _ric_inputs(split, preds)
    tok = PTBTokenizer()
    gts, res = tok.tokenize(gts), tok.tokenize(res)
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    meteor, _ = Meteor().compute_score(gts, res)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    return _ric_numbers(bleu, meteor, rouge, cider)


def ric_floor(split: Path, preds: Path) -> dict:
    """The same scorers with the JVM work overlapped: METEOR starts first, both sides are
    tokenised at once, METEOR scores in a thread beside BLEU, ROUGE-L and CIDEr-D."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    meteor_box: dict = {}
    starter = threading.Thread(target=lambda: meteor_box.update(m=Meteor()))
    starter.start()
    gts, res = _ric_inputs(split, preds)
    tok: dict = {}
    t = threading.Thread(target=lambda: tok.update(g=PTBTokenizer().tokenize(gts)))
    t.start()
    tok["r"] = PTBTokenizer().tokenize(res)
    t.join()
    gts, res = tok["g"], tok["r"]
    starter.join()
    t = threading.Thread(target=lambda: meteor_box.update(score=meteor_box["m"].compute_score(gts, res)[0]))
    t.start()
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    t.join()
    return _ric_numbers(bleu, meteor_box["score"], rouge, cider)


SCRIPTS = {
    ("anchor", "rec"): rec_anchor,
    ("floor", "rec"): rec_floor,
    ("anchor", "res"): res_anchor,
    ("floor", "res"): res_floor,
    ("anchor", "ovd"): ovd_anchor,
    ("pycocotools", "ovd"): ovd_pycocotools,
    ("floor", "ovd"): ovd_floor,
    ("anchor", "ric"): ric_anchor,
    ("floor", "ric"): ric_floor,
}


if __name__ == "__main__":
    kind, task, split_arg, preds_arg = sys.argv[1:5]
    print(json.dumps(SCRIPTS[kind, task](Path(split_arg), Path(preds_arg))))
