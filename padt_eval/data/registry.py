"""The split registry: standard split names → files under a data root.

RefCOCO and RefCOCO+ use the `unc` partition (val, testA, testB); RefCOCOg uses `umd`
(val, test). Each split can be read from two layouts:

* `refer`: `<root>/<dataset>/refs(<by>).p` + `<root>/<dataset>/instances.json`
  (the standard archives; full official splits; preferred);
* `padt-jsonl`: `<root>/PaDT-MLLM/RefCOCO/<split>.json` (PaDT's processed files, which
  dropped tiny-mask samples).

Images are COCO train2014 files under `<root>/coco/train2014` (or one of the other
places listed in `IMAGE_ROOT_CANDIDATES`). The data root is `--data-root`, else
`$PADT_EVAL_DATA`, else `./data`. A direct path to a PaDT JSONL split file is accepted
in place of a name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from padt_eval.data.instances import find_train2014_instances
from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
from padt_eval.data.refer import ReferReader
from padt_eval.data.safe_pickle import load_restricted
from padt_eval.data.split import SplitReader
from padt_eval.core.errors import DataError, UsageError, did_you_mean
from padt_eval.core.types import Task

DATA_ROOT_ENV = "PADT_EVAL_DATA"
LAYOUTS = ("auto", "refer", "padt-jsonl")


@dataclass(frozen=True)
class RefSplit:
    name: str
    dataset: str  # refcoco | refcoco+ | refcocog
    split_by: str  # unc | umd
    split: str  # val | testA | testB | test


REFERRING_SPLITS: dict[str, RefSplit] = {
    s.name: s
    for s in [
        RefSplit("refcoco_val", "refcoco", "unc", "val"),
        RefSplit("refcoco_testA", "refcoco", "unc", "testA"),
        RefSplit("refcoco_testB", "refcoco", "unc", "testB"),
        RefSplit("refcoco+_val", "refcoco+", "unc", "val"),
        RefSplit("refcoco+_testA", "refcoco+", "unc", "testA"),
        RefSplit("refcoco+_testB", "refcoco+", "unc", "testB"),
        RefSplit("refcocog_val", "refcocog", "umd", "val"),
        RefSplit("refcocog_test", "refcocog", "umd", "test"),
    ]
}

IMAGE_ROOT_CANDIDATES = ("coco/train2014", "train2014", "images/train2014", "mscoco/train2014", "images/mscoco/images/train2014")
PADT_JSONL_DIRS = ("PaDT-MLLM/RefCOCO", "RefCOCO")


def default_data_root(data_root: str | Path | None = None) -> Path:
    if data_root is not None:
        return Path(data_root)
    return Path(os.environ.get(DATA_ROOT_ENV, "data"))


def _refer_files(root: Path, s: RefSplit) -> tuple[Path, Path]:
    base = root / s.dataset
    return base / f"refs({s.split_by}).p", base / "instances.json"


def _padt_jsonl_candidates(root: Path, s: RefSplit) -> list[Path]:
    return [root / d / f"{s.name}.json" for d in PADT_JSONL_DIRS] + [root / d / f"{s.name}.jsonl" for d in PADT_JSONL_DIRS]


def find_image_root(root: Path, image_root: str | Path | None, looked: list[str]) -> Path | None:
    if image_root is not None:
        p = Path(image_root)
        looked.append(f"images: {p} (--image-root)")
        return p if p.is_dir() else None
    for rel in IMAGE_ROOT_CANDIDATES:
        p = root / rel
        looked.append(f"images: {p}")
        if p.is_dir():
            return p
    return None


def locate(name: str, data_root: str | Path | None = None, layout: str = "auto") -> tuple[str, list[Path], list[str]]:
    """Find a split's files. Returns (layout, files, places looked); files is empty when not found."""
    if layout not in LAYOUTS:
        raise UsageError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    s = REFERRING_SPLITS[name]
    root = default_data_root(data_root)
    looked: list[str] = []
    if layout in ("auto", "refer"):
        refs, inst = _refer_files(root, s)
        looked.append(f"refer layout: {refs} + {inst}")
        if refs.is_file() and inst.is_file():
            return "refer", [refs, inst], looked
    if layout in ("auto", "padt-jsonl"):
        for cand in _padt_jsonl_candidates(root, s):
            looked.append(f"padt-jsonl layout: {cand}")
            if cand.is_file():
                return "padt-jsonl", [cand], looked
    return layout, [], looked


def open_split(
    split: str,
    task: Task,
    data_root: str | Path | None = None,
    image_root: str | Path | None = None,
    layout: str = "auto",
    gt: str = "official",
    require_images: bool = True,
) -> SplitReader:
    """Resolve a split name (or a direct path to a split file) to a reader.

    REC/RES resolve here; OVD and RIC splits (COCO val2017, RIC val) live in
    `coco_splits`. `gt` chooses OVD's ground truth (official or PaDT-filtered).
    `require_images=False` (scoring a predictions file reads no image) accepts a missing
    image folder: the reader then points at the first usual place, and an image that is
    opened after all fails with a message naming it.
    """
    if task in (Task.OVD, Task.RIC):
        from padt_eval.data.coco_splits import open_coco_split

        return open_coco_split(split, task, data_root=data_root, image_root=image_root, layout=layout, gt=gt, require_images=require_images)
    if gt != "official":
        raise UsageError("--gt padt-filtered applies to OVD (COCO) only")
    root = default_data_root(data_root)
    direct = Path(split)
    if split not in REFERRING_SPLITS:
        if direct.suffix in (".json", ".jsonl") and direct.is_file():
            looked: list[str] = []
            img = find_image_root(root, image_root, looked) or (direct.parent / "images" if (direct.parent / "images").is_dir() else None)
            if img is None and not require_images:
                img = Path(image_root) if image_root is not None else direct.parent / "images"
            if img is None:
                raise UsageError(
                    f"split file {direct} found, but no image folder; pass --image-root. Looked in:\n  " + "\n  ".join(looked)
                )
            return PadtRefcocoJsonlReader(direct, img, task, instances_path=find_train2014_instances(root, img))
        hint = f" (no file at {direct})" if direct.suffix in (".json", ".jsonl") else ""
        raise UsageError(
            f"unknown split {split!r}{hint}{did_you_mean(split, REFERRING_SPLITS)}. Known splits: {', '.join(REFERRING_SPLITS)}; "
            "or give the path to a PaDT JSONL split file"
        )
    found_layout, files, looked = locate(split, root, layout)
    if not files:
        raise UsageError(
            f"split {split!r} not found under data root {root.resolve()}. Looked for:\n  "
            + "\n  ".join(looked)
            + f"\nSet --data-root or ${DATA_ROOT_ENV}, or fetch it: padt-eval data fetch {REFERRING_SPLITS[split].dataset} coco-train2014-images --to {root}"
        )
    img_root = find_image_root(root, image_root, looked)
    if img_root is None and not require_images:
        img_root = Path(image_root) if image_root is not None else root / "coco" / "train2014"
    if img_root is None:
        raise UsageError(f"split {split!r}: annotation files found but no COCO train2014 image folder. Looked in:\n  " + "\n  ".join(looked))
    s = REFERRING_SPLITS[split]
    if found_layout == "refer":
        return ReferReader(files[0], files[1], s.split, img_root, task, name=split)
    return PadtRefcocoJsonlReader(files[0], img_root, task, name=split, instances_path=find_train2014_instances(root, img_root))


def _count_samples(layout: str, files: list[Path], split: str, refs_cache: dict[Path, list]) -> int:
    """Samples a split really holds: sentences of that partition (refer) or non-blank lines (JSONL)."""
    if layout == "refer":
        refs = refs_cache.get(files[0])
        if refs is None:
            refs = refs_cache[files[0]] = load_restricted(files[0])
        return sum(len(r.get("sentences", [])) for r in refs if isinstance(r, dict) and r.get("split") == split)
    with open(files[0], "rb") as f:
        return sum(1 for line in f if line.strip())


def locate_samples(split: str, root: Path, layout: str = "auto", refs_cache: dict[Path, list] | None = None) -> tuple[str, list[Path], int | None, str | None]:
    """(layout, files, samples, error) of one referring split: a split is found when its
    files hold samples of that partition. `splits` and `data status` both ask this."""
    found_layout, files, _ = locate(split, root, layout)
    if not files:
        return found_layout, files, None, None
    try:
        return found_layout, files, _count_samples(found_layout, files, REFERRING_SPLITS[split].split, {} if refs_cache is None else refs_cache), None
    except DataError as exc:
        return found_layout, files, None, str(exc)


def split_status(data_root: str | Path | None = None) -> list[dict]:
    """For `padt-eval splits`: each known split, whether found, in which layout, how many samples, where."""
    root = default_data_root(data_root)
    looked_imgs: list[str] = []
    img = find_image_root(root, None, looked_imgs)
    refs_cache: dict[Path, list] = {}
    rows = []
    for name, s in REFERRING_SPLITS.items():
        layout, files, n, error = locate_samples(name, root, refs_cache=refs_cache)
        rows.append(
            {
                "split": name,
                "dataset": s.dataset,
                "partition": f"{s.split_by}/{s.split}",
                "found": bool(files) and bool(n),
                "layout": layout if files else None,
                "n_samples": n,
                "error": error,
                "files": [str(f) for f in files],
                "images": str(img) if img else None,
            }
        )
    from padt_eval.data.coco_splits import coco_split_status

    return rows + coco_split_status(root)
