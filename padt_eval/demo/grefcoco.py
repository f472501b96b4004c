"""gRefCOCO-layout demo data (0, 1 or many targets) and predictions whose scores are known
by construction.

`write_grefcoco` writes `grefs(unc).json` + `instances.json` for a synthetic world (the
same images as the RefCOCO demo): per image, one expression per object ("the red circle"),
one many-target expression per shape that appears more than once ("every circle") and one
for every object ("all the shapes"), and one no-target expression naming a colour and shape
the image does not hold. Images go to val / testA / testB by image id modulo 3.

`make_grec_predictions` / `make_gres_predictions` give each sample a designed outcome and
return the metrics that follow from the designs alone (GREC: counted; GRES: intersections
and unions counted on decoded numpy masks, not on RLE as the metric does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from padt_eval.core import rle as rlemod
from padt_eval.core.types import Sample
from padt_eval.demo.synthetic import COLOURS, SHAPE_CATEGORY_IDS, SHAPES, SynthImage, write_coco_instances

SPLITS = ("val", "testA", "testB")


def split_of(image_id: int) -> str:
    return SPLITS[(image_id - 1) % 3]  # image 1 (the docs' one-image demo) is in val


def _expressions(img: SynthImage) -> list[tuple[str, list[int]]]:
    """(expression, target object indices) of one image; [] targets = no target."""
    out = [(f"the {o.name}", [j]) for j, o in enumerate(img.objects)]
    for shape in SHAPES:
        idx = [j for j, o in enumerate(img.objects) if o.shape == shape]
        if len(idx) > 1:
            out.append((f"every {shape}", idx))
    out.append(("all the shapes", list(range(len(img.objects)))))
    present = {(o.colour, o.shape) for o in img.objects}
    absent = next((c, s) for c in COLOURS for s in SHAPES if (c, s) not in present and c not in {o.colour for o in img.objects})
    out.append((f"the {absent[0]} {absent[1]}", []))
    return out


def write_grefcoco(world: list[SynthImage], dataset_dir: Path) -> int:
    """Write the official layout under `dataset_dir`; return the number of sentences."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    # instances.json is the COCO instances file of the world; its annotation ids run 1, 2, ...
    # in image, then object order, which is how the refs below name them.
    write_coco_instances(world, dataset_dir / "instances.json")
    refs = []
    ann_ids: dict[tuple[int, int], int] = {}
    for img in world:
        for j in range(len(img.objects)):
            ann_ids[(img.image_id, j)] = len(ann_ids) + 1
    sent_id = 0
    for img in world:
        for expr, targets in _expressions(img):
            ids = [ann_ids[(img.image_id, j)] for j in targets] or [-1]
            refs.append(
                {
                    "ref_id": len(refs),
                    "image_id": img.image_id,
                    "ann_id": ids,
                    "category_id": [SHAPE_CATEGORY_IDS[img.objects[j].shape] for j in targets] or [-1],
                    "split": split_of(img.image_id),
                    "no_target": not targets,
                    "sent_ids": [sent_id],
                    "sentences": [{"sent_id": sent_id, "sent": expr, "raw": expr.capitalize(), "tokens": expr.split()}],
                }
            )
            sent_id += 1
    (dataset_dir / "grefs(unc).json").write_text(json.dumps(refs), encoding="utf-8")
    return sent_id


# A box that every ground-truth object of the demo misses (IoU < 0.5): the "extra" answer.
STRAY_BOX = [0.0, 0.0, 2.0, 2.0]
# Moving a box by 17 % of its size along both axes leaves IoU 0.525 but GIoU 0.483: standard
# (IoU >= 0.5) counts it, the official generalized-IoU rule does not.
GIOU_TRAP_SHIFT = 0.17

NO_TARGET_DESIGNS = ("reject", "false_alarm", "low_score_box")
TARGET_DESIGNS = ("exact", "miss_one", "extra", "low_score_extra", "giou_trap")


@dataclass
class ExpectedGeneralized:
    standard: dict[str, float]
    official: dict[str, float]
    designs: dict[str, int] = field(default_factory=dict)


def _write(lines: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def _jitter(box: list[float], rng: np.random.Generator) -> list[float]:
    w, h = box[2] - box[0], box[3] - box[1]
    d = rng.uniform(-0.02, 0.02, 4) * np.array([w, h, w, h])
    return [float(v) for v in np.asarray(box) + d]


def make_grec_predictions(samples: list[Sample], path: Path, seed: int = 0) -> ExpectedGeneralized:
    """One designed answer per sample; the expected metrics are counted from the designs."""
    rng = np.random.default_rng(seed)
    lines, designs = [], {d: 0 for d in NO_TARGET_DESIGNS + TARGET_DESIGNS}
    n_nt = nt_ok = n_t = t_kept = ok_std = ok_off = 0
    for s in samples:
        gt = [o.bbox for o in s.objects]
        if not gt:
            design = NO_TARGET_DESIGNS[int(rng.integers(len(NO_TARGET_DESIGNS)))]
            objects = {
                "reject": [],
                "false_alarm": [{"bbox": STRAY_BOX, "score": 0.9}],
                "low_score_box": [{"bbox": STRAY_BOX, "score": 0.3}],
            }[design]
            n_nt += 1
            correct = design != "false_alarm"
            nt_ok += correct
            ok_std += correct
            ok_off += correct
        else:
            design = TARGET_DESIGNS[int(rng.integers(len(TARGET_DESIGNS)))]
            if design == "giou_trap" and len(gt) > 1:
                design = "exact"  # the trap is designed on one box
            boxes = [_jitter(b, rng) for b in gt]
            if design == "miss_one":
                boxes = boxes[1:]
            if design == "giou_trap":
                b = gt[0]
                dx, dy = GIOU_TRAP_SHIFT * (b[2] - b[0]), GIOU_TRAP_SHIFT * (b[3] - b[1])
                boxes = [[b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy]]
            objects = [{"bbox": b, "score": float(rng.uniform(0.75, 1.0))} for b in boxes]
            if design in ("extra", "low_score_extra"):
                objects.append({"bbox": STRAY_BOX, "score": 0.9 if design == "extra" else 0.2})
            n_t += 1
            t_kept += bool(boxes) or design == "extra"
            ok_std += design in ("exact", "low_score_extra", "giou_trap")
            ok_off += design in ("exact", "low_score_extra")
        designs[design] += 1
        lines.append({"sample_id": s.sample_id, "objects": objects})
    _write(lines, path)
    n = len(samples)
    acc = {"n_acc": nt_ok / n_nt, "t_acc": t_kept / n_t}
    return ExpectedGeneralized({"pr_f1": ok_std / n, **acc}, {"pr_f1": ok_off / n, **acc}, designs)


def make_gres_predictions(samples: list[Sample], path: Path, seed: int = 0) -> ExpectedGeneralized:
    """Masks: the targets' own (exact), one fewer (miss_one), or with a non-target object's
    mask added (extra); no-target samples are rejected or given an object's mask."""
    rng = np.random.default_rng(seed)
    lines, designs = [], {d: 0 for d in ("reject", "false_alarm", "exact", "miss_one", "extra")}
    ious, sum_i, sum_u, target_ious = [], 0, 0, []
    tp = fn = tn = fp = 0
    for s in samples:
        h, w = s.image.height, s.image.width
        gt = np.zeros((h, w), dtype=bool)
        for o in s.objects:
            gt |= rlemod.decode(o.mask).astype(bool)
        other = _other_object_mask(s, rng)  # a mask of the image that is not a target
        if not s.objects:
            design = ("reject", "false_alarm")[int(rng.integers(2))] if other is not None else "reject"
            masks = [] if design == "reject" else [other]
        else:
            design = ("exact", "miss_one", "extra")[int(rng.integers(3))]
            if design == "extra" and other is None:
                design = "exact"
            masks = [rlemod.decode(o.mask).astype(bool) for o in s.objects]
            masks = masks[1:] if design == "miss_one" else masks + ([other] if design == "extra" else [])
        designs[design] += 1
        pred = np.zeros((h, w), dtype=bool)
        for m in masks:
            pred |= m
        i, u = int((pred & gt).sum()), int((pred | gt).sum())
        if not s.objects:
            tp, fn = tp + (not masks), fn + bool(masks)
            ious.append(1.0 if not masks else 0.0)
            sum_u += u if masks else 0
        else:
            tn, fp = tn + bool(masks), fp + (not masks)
            iou = i / u if u else 0.0
            ious.append(iou)
            target_ious.append(iou)
            sum_i, sum_u = sum_i + i, sum_u + u
        objects = [{"mask": rlemod.encode(m), "bbox": rlemod.bbox_xyxy(rlemod.encode(m)), "score": 0.9} for m in masks]
        lines.append({"sample_id": s.sample_id, "objects": objects})
    _write(lines, path)
    base = {
        "giou": sum(ious) / len(ious),
        "ciou": sum_i / sum_u,
        **{f"pr@{t:g}": sum(v >= t for v in target_ious) / len(target_ious) for t in (0.7, 0.8, 0.9)},
        "n_acc": tp / (tp + fn),
        "t_acc": tn / (tn + fp),
    }
    standard = {**base, "miou_target": sum(target_ious) / len(target_ious)}
    official = {**base, "t_acc_initial_commit": tp / (tp + fp + 1), "n_acc_initial_commit": tp / (tp + fn + 1)}
    return ExpectedGeneralized(standard, official, designs)


def _other_object_mask(s: Sample, rng: np.random.Generator) -> np.ndarray | None:
    """A square patch in a corner no target covers (a stand-in for a non-target object)."""
    h, w = s.image.height, s.image.width
    size = max(4, min(h, w) // 8)
    patch = np.zeros((h, w), dtype=bool)
    patch[:size, :size] = True
    for o in s.objects:
        if (rlemod.decode(o.mask).astype(bool) & patch).any():
            return None
    return patch
