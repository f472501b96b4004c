"""Demo predictions for OVD and RIC, and the metrics they must give, computed independently.

OVD: the ground truth with seeded perturbations (exact, jittered, moved away, wrong or
unknown label, dropped, false positives, missing and unparseable lines); the expected
statistics come from pycocotools' own `COCOeval` run on the instances file and the
detections, not from `padt_eval.metrics`.

RIC: captions in PaDT's VRT format and in a coordinate-text format, with objects exact or
moved away; the expected caption metrics come from direct pycocoevalcap calls on the
plain captions the generator wrote (known by construction, not cleaned by our code) and
GP/GR from counting the objects the generator placed.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from padt_eval.demo.synthetic import SHAPE_CATEGORY_IDS, SynthImage, ric_captions
from padt_eval.metrics.detection import STAT_KEYS


@dataclass
class ExpectedRun:
    metrics: dict[str, float | None]
    outcomes: dict[str, int] = field(default_factory=dict)


def _vrts(rng: np.random.Generator) -> str:
    return "".join(f"<|VRT_{int(v)}|>" for v in rng.integers(0, 300, 5))


def make_ovd_predictions(world: list[SynthImage], instances: Path, path: Path, seed: int = 0) -> ExpectedRun:
    rng = np.random.default_rng(seed + 101)
    names = list(SHAPE_CATEGORY_IDS)
    counts: dict[str, int] = {}
    dets: list[dict] = []  # what pycocotools is given (mapped labels only)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for img in world:
            line_outcome = rng.choice(["ok", "missing", "unparseable"], p=[0.84, 0.08, 0.08])
            counts[f"image_{line_outcome}"] = counts.get(f"image_{line_outcome}", 0) + 1
            if line_outcome == "missing":
                continue
            if line_outcome == "unparseable":
                f.write(
                    json.dumps(
                        {
                            "sample_id": str(img.image_id),
                            "text": "circle circle circ",
                            "parse_status": "failed",
                            "parse_reason": "cut off",
                        }
                    )
                    + "\n"
                )
                continue
            objects = []
            for o in img.objects:
                x, y, w, h = o.bbox_xywh
                kind = str(
                    rng.choice(
                        ["exact", "jitter", "away", "wrong_label", "unknown_label", "dropped"], p=[0.45, 0.2, 0.1, 0.1, 0.05, 0.1]
                    )
                )
                counts[kind] = counts.get(kind, 0) + 1
                label = o.shape if rng.random() < 0.7 else f" {o.shape.upper()} "
                box = [x, y, x + w, y + h]
                if kind == "jitter":
                    box = [x + 0.1 * w, y + 0.05 * h, x + 1.1 * w, y + 1.05 * h]
                elif kind == "away":
                    box = [x + img.width, y, x + w + img.width, y + h]
                elif kind == "wrong_label":
                    label = names[(names.index(o.shape) + 1) % len(names)]
                elif kind == "unknown_label":
                    label = "blob"
                elif kind == "dropped":
                    continue
                objects.append(
                    {"bbox": [float(v) for v in box], "score": round(float(rng.uniform(0.05, 1.0)), 4), "label": label}
                )
            if rng.random() < 0.3:  # a false positive somewhere in the background
                objects.append(
                    {
                        "bbox": [1.0, 1.0, 9.0, 9.0],
                        "score": round(float(rng.uniform(0.05, 1.0)), 4),
                        "label": str(rng.choice(names)),
                    }
                )
            f.write(json.dumps({"sample_id": str(img.image_id), "objects": objects}) + "\n")
            for obj in objects:
                cid = SHAPE_CATEGORY_IDS.get(obj["label"].strip().lower())
                if cid is None:
                    continue
                x1, y1, x2, y2 = obj["bbox"]
                dets.append(
                    {"image_id": img.image_id, "category_id": cid, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": obj["score"]}
                )
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(instances))
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ExpectedRun({k: (None if v < 0 else float(v)) for k, v in zip(STAT_KEYS, ev.stats)}, counts)


def make_ric_predictions(world: list[SynthImage], path: Path, seed: int = 0) -> ExpectedRun:
    rng = np.random.default_rng(seed + 202)
    counts: dict[str, int] = {}
    candidates: list[str] = []
    references: list[list[str]] = []
    n_pred = n_gt = n_matched = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for img in sorted(world, key=lambda i: i.image_id):
            caps = ric_captions(img)
            references.append([plain for _, plain, _ in caps])
            gt_idx = sorted({j for _, _, idx in caps for j in idx})
            n_gt += len(gt_idx)
            kind = str(
                rng.choice(
                    ["vrt_exact", "vrt_short", "vrt_away", "coords_exact", "missing", "unparseable"],
                    p=[0.4, 0.15, 0.15, 0.15, 0.08, 0.07],
                )
            )
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "missing":
                candidates.append("")
                continue
            if kind == "unparseable":
                candidates.append("")
                f.write(
                    json.dumps(
                        {
                            "sample_id": str(img.image_id),
                            "text": "A red (<|VRT_1|><|VRT",
                            "parse_status": "failed",
                            "parse_reason": "VRT run cut off",
                        }
                    )
                    + "\n"
                )
                continue
            template, plain, idx = caps[1] if kind == "vrt_short" else caps[0]
            if kind == "vrt_short":  # a caption that is no reference word for word
                template, plain = (t.replace(" of a grey background", "") for t in (template, plain))
            text = template
            for k, j in enumerate(idx):
                x, y, w, h = img.objects[j].bbox_xywh
                mark = _vrts(rng) if kind.startswith("vrt") else f"[{round(x)}, {round(y)}, {round(x + w)}, {round(y + h)}]"
                text = text.replace(f"<|Obj_{k}|>", mark)
            objects = []
            for j in idx:
                o = img.objects[j]
                x, y, w, h = o.bbox_xywh
                if kind == "vrt_away":
                    objects.append({"bbox": [x, y + img.height, x + w, y + h + img.height]})
                else:
                    objects.append({"bbox": [x, y, x + w, y + h], "mask": o.mask})
                    n_matched += 1
            n_pred += len(objects)
            candidates.append(plain)
            f.write(json.dumps({"sample_id": str(img.image_id), "text": text + "<|im_end|>", "objects": objects}) + "\n")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from padt_eval.metrics.captions import shared_meteor  # the process's one METEOR JVM

    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r} for r in refs] for i, refs in enumerate(references)})
    res = tok.tokenize({i: [{"caption": c}] for i, c in enumerate(candidates)})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    metrics: dict[str, float | None] = {f"bleu{k + 1}": float(v) for k, v in enumerate(bleu)}
    metrics["meteor"] = float(shared_meteor().compute_score(gts, res)[0])
    metrics["rouge_l"] = float(Rouge().compute_score(gts, res)[0])
    metrics["cider_d"] = float(Cider().compute_score(gts, res)[0])
    metrics["gp"] = n_matched / n_pred
    metrics["gr"] = n_matched / n_gt
    metrics["gp_mask"] = n_matched / n_pred  # matched objects carry the GT mask; moved ones none
    metrics["gr_mask"] = n_matched / n_gt
    return ExpectedRun(metrics, counts)
