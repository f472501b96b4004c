"""Split names for OVD and RIC, and where their files are looked for under a data root.

* `coco_val2017` (OVD): the official `instances_val2017.json` + `val2017/` images
  (layout `coco`), or PaDT-MLLM/COCO's `instances_val2017.json` JSONL (layout
  `padt-jsonl`, PaDT's filtered GT). `--gt official` (default) needs the official file;
  `--gt padt-filtered` rebuilds PaDT's filtered GT from it, or reads PaDT's JSONL when
  only that is present.
* `ric_val` (RIC): PaDT-MLLM/ReferringImageCaptioning's `ric_instances_val2017.json`
  JSONL + COCO `val2017/` images.

A direct path to a split file is accepted in place of a name: for OVD an official
instances file or a PaDT COCO JSONL (told apart by their first line), for RIC a PaDT RIC
JSONL. Every "not found" error lists each place that was looked at.
"""

from __future__ import annotations

import json
from pathlib import Path

from padt_eval.data.coco import GT_MODES, CocoReader, PadtCocoJsonlReader
from padt_eval.data.split import SplitReader
from padt_eval.core.errors import DataError, UsageError, did_you_mean
from padt_eval.core.types import Task

OVD_SPLITS = {"coco_val2017": "COCO 2017 val, 5,000 images, 80 categories"}
RIC_SPLITS = {"ric_val": "PaDT's referring image captioning val (COCO val2017 images re-captioned)"}
OVD_LAYOUTS = ("auto", "coco", "padt-jsonl")

COCO_ANNOTATIONS = (
    "coco/annotations/instances_val2017.json",
    "annotations/instances_val2017.json",
    "coco2017/annotations/instances_val2017.json",
    "COCO/annotations/instances_val2017.json",
    "mscoco/annotations/instances_val2017.json",
)
PADT_COCO_JSONL = (
    "PaDT-MLLM/COCO/instances_val2017.json",
    "PaDT-MLLM/COCO/instances_val2017.jsonl",
    "coco/processed/instances_val2017.json",
)
RIC_JSONL = (
    "PaDT-MLLM/ReferringImageCaptioning/ric_instances_val2017.json",
    "PaDT-MLLM/ReferringImageCaptioning/ric_instances_val2017.jsonl",
    "ReferringImageCaptioning/processed/ric_instances_val2017.json",
    "ReferringImageCaptioning/ric_instances_val2017.json",
)
VAL2017_IMAGES = ("coco/val2017", "val2017", "coco2017/val2017", "images/val2017", "coco/images/val2017", "COCO/val2017", "mscoco/val2017")


def _first(root: Path, candidates: tuple[str, ...], what: str, looked: list[str]) -> Path | None:
    for rel in candidates:
        p = root / rel
        looked.append(f"{what}: {p}")
        if p.is_file():
            return p
    return None


def find_val2017_images(root: Path, image_root: str | Path | None, looked: list[str], near: Path | None = None) -> Path | None:
    if image_root is not None:
        p = Path(image_root)
        looked.append(f"images: {p} (--image-root)")
        return p if p.is_dir() else None
    places = [root / rel for rel in VAL2017_IMAGES]
    if near is not None:  # beside a split file given by path: ../val2017, ../../val2017, ./images
        places += [near.parent / "val2017", near.parent.parent / "val2017", near.parent / "images"]
    for p in places:
        looked.append(f"images: {p}")
        if p.is_dir():
            return p
    return None


_FETCH_NAMES = {"coco_val2017": "coco-val2017", "ric_val": "ric coco-val2017"}


def _images_for_file(split_file: Path, root: Path, image_root, require_images: bool = True) -> Path:
    """The image folder of a split given by path (beside it, or the usual places)."""
    looked: list[str] = []
    img = find_val2017_images(root, image_root, looked, near=split_file)
    if img is None and not require_images:
        return Path(image_root) if image_root is not None else split_file.parent / "images"
    if img is None:
        raise UsageError(f"split file {split_file} found, but no image folder; pass --image-root. Looked in:\n  " + "\n  ".join(looked))
    return img


def _not_found(split: str, root: Path, looked: list[str], extra: str = "") -> UsageError:
    return UsageError(
        f"split {split!r} not found under data root {root.resolve()}. Looked for:\n  " + "\n  ".join(looked)
        + (f"\n{extra}" if extra else "")
        + f"\nSet --data-root or $PADT_EVAL_DATA (and --image-root), or fetch it: padt-eval data fetch {_FETCH_NAMES.get(split, 'coco-val2017')} --to {root}"
    )


def _is_official_instances(path: Path) -> bool:
    """An official instances file is one JSON object with 'images'; a PaDT JSONL's first
    line is one sample with 'objects'. Anything else is refused here, naming the file."""
    with open(path, "rb") as f:
        first = f.readline()
    if not first.strip():
        raise DataError(f"{path}: the file is empty (expected a COCO instances file or a PaDT COCO JSONL)")
    try:
        obj = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        try:
            with open(path, "rb") as f:
                obj = json.load(f)  # pretty-printed instances file
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: neither a COCO instances file nor a PaDT JSONL ({exc})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: neither a COCO instances file nor a PaDT JSONL (its first JSON value is a {type(obj).__name__})")
    if "objects" in obj or "conversations" in obj:
        return False  # a PaDT JSONL sample
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(obj.get(k), list)]
    if missing:
        raise DataError(f"{path}: not a COCO instances file (no {', '.join(repr(k) for k in missing)} list) and not a PaDT COCO JSONL (no 'objects')")
    return True


def open_coco_split(
    split: str, task: Task, *, data_root=None, image_root=None, layout: str = "auto", gt: str = "official", require_images: bool = True
) -> SplitReader:
    """OVD and RIC splits; `require_images` as in `registry.open_split`."""
    from padt_eval.data.registry import default_data_root

    root = default_data_root(data_root)
    if gt not in GT_MODES:
        raise UsageError(f"unknown --gt {gt!r}; choose one of {', '.join(GT_MODES)}")
    if task == Task.RIC:
        if gt != "official":
            raise UsageError("--gt padt-filtered applies to OVD only")
        return _open_ric(split, root, image_root, require_images)
    if layout not in OVD_LAYOUTS:
        raise UsageError(f"unknown layout {layout!r} for OVD; choose one of {', '.join(OVD_LAYOUTS)}")
    looked: list[str] = []
    direct = Path(split)
    if split not in OVD_SPLITS:
        if direct.suffix in (".json", ".jsonl") and direct.is_file():
            img = _images_for_file(direct, root, image_root, require_images)
            if _is_official_instances(direct):
                return CocoReader(direct, img, gt=gt)
            if gt == "official":
                raise UsageError(f"{direct} is a PaDT COCO JSONL, which holds PaDT's filtered GT only; pass --gt padt-filtered to score against it")
            return PadtCocoJsonlReader(direct, img)
        hint = f" (no file at {direct})" if direct.suffix in (".json", ".jsonl") else ""
        raise UsageError(f"unknown OVD split {split!r}{hint}{did_you_mean(split, OVD_SPLITS)}. Known: {', '.join(OVD_SPLITS)}; or give the path to an instances file")
    official = _first(root, COCO_ANNOTATIONS, "official annotations", looked) if layout in ("auto", "coco") else None
    padt = None
    if official is None and gt == "padt-filtered" and layout in ("auto", "padt-jsonl"):
        padt = _first(root, PADT_COCO_JSONL, "PaDT COCO JSONL", looked)
    if official is None and padt is None:
        extra = ""
        if gt == "official":
            if layout == "padt-jsonl":
                raise UsageError("--layout padt-jsonl holds PaDT's filtered GT only; pass --gt padt-filtered, or use the official annotations")
            extra = "(A PaDT-MLLM/COCO JSONL holds PaDT's filtered GT only; it is used with --gt padt-filtered.)"
        raise _not_found(split, root, looked, extra)
    img = find_val2017_images(root, image_root, looked)
    if img is None and not require_images:
        img = Path(image_root) if image_root is not None else root / "coco" / "val2017"
    if img is None:
        raise UsageError(f"split {split!r}: annotations found but no COCO val2017 image folder. Looked in:\n  " + "\n  ".join(looked))
    name = split if gt == "official" else f"{split}_padt_filtered"
    if official is not None:
        return CocoReader(official, img, gt=gt, name=name)
    return PadtCocoJsonlReader(padt, img, name=name)  # type: ignore[arg-type]


def _open_ric(split: str, root: Path, image_root, require_images: bool = True) -> SplitReader:
    from padt_eval.data.ric import RicJsonlReader

    looked: list[str] = []
    direct = Path(split)
    if split not in RIC_SPLITS:
        if direct.suffix in (".json", ".jsonl") and direct.is_file():
            img = _images_for_file(direct, root, image_root, require_images)
            return RicJsonlReader(direct, img)
        hint = f" (no file at {direct})" if direct.suffix in (".json", ".jsonl") else ""
        raise UsageError(f"unknown RIC split {split!r}{hint}{did_you_mean(split, RIC_SPLITS)}. Known: {', '.join(RIC_SPLITS)}; or give the path to a PaDT RIC JSONL file")
    path = _first(root, RIC_JSONL, "PaDT RIC JSONL", looked)
    if path is None:
        raise _not_found(split, root, looked)
    img = find_val2017_images(root, image_root, looked)
    if img is None and not require_images:
        img = Path(image_root) if image_root is not None else root / "coco" / "val2017"
    if img is None:
        raise UsageError(f"split {split!r}: captions found but no COCO val2017 image folder. Looked in:\n  " + "\n  ".join(looked))
    return RicJsonlReader(path, img, name=split)


def coco_split_status(root: Path) -> list[dict]:
    """Rows for `padt-eval splits`: whether coco_val2017 and ric_val are found, and where."""
    rows = []
    looked: list[str] = []
    img = find_val2017_images(root, None, looked)
    official = _first(root, COCO_ANNOTATIONS, "", [])
    padt = _first(root, PADT_COCO_JSONL, "", [])
    ric = _first(root, RIC_JSONL, "", [])
    for name, dataset, path, layout in (
        ("coco_val2017", "coco", official or padt, "coco" if official else ("padt-jsonl (filtered GT only)" if padt else None)),
        ("ric_val", "ric", ric, "padt-jsonl" if ric else None),
    ):
        n = None
        if path is not None and layout != "coco":
            with open(path, "rb") as f:
                n = sum(1 for line in f if line.strip())
        rows.append(
            {
                "split": name,
                "dataset": dataset,
                "partition": "val2017",
                "found": path is not None and img is not None,
                "layout": layout,
                "n_samples": n if name == "coco_val2017" or n is None else None,
                "error": None,
                "files": [str(path)] if path else [],
                "images": str(img) if img else None,
            }
        )
    return rows
