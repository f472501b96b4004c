"""The split registry: the one engine over the split table (`split_table.SPLITS`).

* `open_split` turns a split name (or the path to a split file) into a reader;
* `locate_samples` finds a split's files and counts their samples (`splits`, `data status`);
* `split_status` lists every known split for `padt-eval splits`;
* `reopen_from_manifest` re-opens a run's split from its manifest, for reports.

The data root is `--data-root`, else `$PADT_EVAL_DATA`, else `./data`. Every "not found"
error lists each place that was looked at and the command that fetches the split. Images
are required only where they are read: `require_images=False` (scoring a predictions file)
accepts a missing image folder, and an image opened after all fails naming itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from padt_eval.core.errors import DataError, PadtEvalError, UsageError, did_you_mean
from padt_eval.core.filekind import file_kind
from padt_eval.core.types import Task
from padt_eval.data.coco import GT_MODES
from padt_eval.data.split import SplitReader
from padt_eval.data.split_table import DIRECT_FILES, SPLITS, ImageFolders, Layout, OpenArgs, SplitSpec, splits_for

DATA_ROOT_ENV = "PADT_EVAL_DATA"
_SPLIT_FILE_SUFFIXES = (".json", ".jsonl")


def default_data_root(data_root: str | Path | None = None) -> Path:
    if data_root is not None:
        return Path(data_root)
    return Path(os.environ.get(DATA_ROOT_ENV, "data"))


def find_images(
    folders: ImageFolders, root: Path, image_root: str | Path | None, looked: list[str], near: Path | None = None
) -> Path | None:
    """The image folder: --image-root when given, else the first of the usual places (and,
    for a split file given by path, the places beside it)."""
    if image_root is not None:
        p = Path(image_root)
        looked.append(f"images: {p} (--image-root)")
        return p if p.is_dir() else None
    places = [root / rel for rel in folders.candidates]
    if near is not None:
        places += [Path(os.path.normpath(near.parent / rel)) for rel in folders.beside_file]
    for p in places:
        looked.append(f"images: {p}")
        if p.is_dir():
            return p
    return None


def _first_file(root: Path, candidates: tuple[str, ...], title: str, looked: list[str]) -> Path | None:
    for rel in candidates:
        p = root / rel
        looked.append(f"{title}: {p}")
        if p.is_dir() if rel.endswith("/") else p.is_file():  # a candidate ending in "/" is a folder
            return p
    return None


def _find_layout(spec: SplitSpec, root: Path, layout: str, gt: str | None) -> tuple[Layout | None, list[Path], list[str]]:
    """The first layout (of `layout`, or any under auto) whose files are all there; `gt`,
    when given, skips layouts that cannot serve it."""
    looked: list[str] = []
    for lay in spec.layouts:
        if layout not in ("auto", lay.name) or (gt is not None and gt not in lay.gts):
            continue
        files = [_first_file(root, candidates, lay.title, looked) for candidates in lay.files]
        if all(f is not None for f in files):
            return lay, files, looked  # type: ignore[return-value]
    return None, [], looked


def locate_samples(
    split: str, root: Path, layout: str = "auto", refs_cache: dict | None = None
) -> tuple[str, list[Path], int | None, str | None]:
    """(layout, files, samples, error) of one split: found when its files are there and hold
    samples of that split (where the layout counts them). `splits` and `data status` both ask this."""
    lay, files, _ = _find_layout(SPLITS[split], root, layout, None)
    if lay is None:
        return layout, [], None, None
    if lay.count is None:
        return lay.name, files, None, None
    try:
        return lay.name, files, lay.count(files, {} if refs_cache is None else refs_cache), None
    except DataError as exc:
        return lay.name, files, None, str(exc)


def _check_options(task: Task, layout: str, gt: str) -> None:
    specs = splits_for(task).values()
    if gt not in GT_MODES:
        raise UsageError(f"unknown --gt {gt!r}; choose one of {', '.join(GT_MODES)}")
    if not any(gt in lay.gts for s in specs for lay in s.layouts):
        served = sorted({t.value.upper() for s in SPLITS.values() for lay in s.layouts if gt in lay.gts for t in s.tasks})
        raise UsageError(f"--gt {gt} applies to {', '.join(served)} only")
    layouts = ("auto", *dict.fromkeys(lay.name for s in specs for lay in s.layouts))
    if layout not in layouts:
        raise UsageError(f"unknown layout {layout!r} for {task.value.upper()}; choose one of {', '.join(layouts)}")


def _images_or_fallback(found: Path | None, image_root, fallback: Path, require_images: bool, message: str) -> Path:
    if found is not None:
        return found
    if not require_images:  # nothing will be read: the reader points at the usual place
        return Path(image_root) if image_root is not None else fallback
    raise UsageError(message)


def _open_file(split: str, task: Task, root: Path, image_root, gt: str, require_images: bool) -> SplitReader:
    """A split given by the path to its file, read as the task's `DIRECT_FILES` entry says."""
    direct, path = DIRECT_FILES[task], Path(split)
    kind = file_kind(path)
    if kind not in (None, "missing"):  # a FIFO or /dev/zero is named, never opened (it would block)
        raise UsageError(f"split file {path} is {kind}, not a regular file; give the path to {direct.what}")
    if path.suffix not in _SPLIT_FILE_SUFFIXES or kind is not None:
        known = splits_for(task)
        hint = f" (no file at {path})" if path.suffix in _SPLIT_FILE_SUFFIXES else ""
        raise UsageError(
            f"unknown {direct.noun} {split!r}{hint}{did_you_mean(split, known)}. Known splits: {', '.join(known)}; or give the path to {direct.what}"
        )
    looked: list[str] = []
    found = find_images(direct.images, root, image_root, looked, near=path)
    message = f"split file {path} found, but no image folder; pass --image-root. Looked in:\n  " + "\n  ".join(looked)
    images = _images_or_fallback(found, image_root, path.parent / "images", require_images, message)
    return direct.open(OpenArgs([path], images, task, None, gt, root))


def _not_found(spec: SplitSpec, root: Path, layout: str, gt: str, looked: list[str]) -> UsageError:
    skipped = [lay for lay in spec.layouts if gt not in lay.gts]
    chosen = next((lay for lay in skipped if lay.name == layout), None)
    if chosen is not None:
        return UsageError(f"--layout {layout} holds {chosen.gt_note}; pass --gt {chosen.gts[0]}, or use the official annotations")
    extra = "".join(
        f"\n(A {lay.title} holds {lay.gt_note}; it is used with --gt {lay.gts[0]}.)"
        for lay in skipped
        if layout == "auto" and lay.gt_note
    )
    return UsageError(
        f"split {spec.name!r} not found under data root {root.resolve()}. Looked for:\n  "
        + "\n  ".join(looked)
        + extra
        + f"\nSet --data-root or ${DATA_ROOT_ENV} (and --image-root), or fetch it: padt-eval data fetch {' '.join(spec.fetch_names)} --to {root}"
    )


def reader_name(split: str, gt: str) -> str:
    """A split scored against another ground truth is another split: `coco_val2017_padt_filtered`."""
    return split if gt == "official" else f"{split}_{gt.replace('-', '_')}"


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

    `layout` picks one of the split's layouts (auto: the first found, in table order); `gt`
    chooses OVD's ground truth (official or PaDT-filtered). `require_images=False` (scoring
    a predictions file reads no image) accepts a missing image folder: the reader then
    points at the first usual place, and an image that is opened after all fails with a
    message naming it.
    """
    root = default_data_root(data_root)
    _check_options(task, layout, gt)
    spec = splits_for(task).get(split)
    if spec is None:
        return _open_file(split, task, root, image_root, gt, require_images)
    lay, files, looked = _find_layout(spec, root, layout, gt)
    if lay is None:
        raise _not_found(spec, root, layout, gt, looked)
    found = find_images(spec.images, root, image_root, looked)
    message = f"split {split!r}: annotations found but no {spec.images.title} image folder. Looked in:\n  " + "\n  ".join(looked)
    images = _images_or_fallback(found, image_root, root / spec.images.candidates[0], require_images, message)
    return lay.open(OpenArgs(files, images, task, reader_name(split, gt), gt, root))


def split_status(data_root: str | Path | None = None) -> list[dict]:
    """For `padt-eval splits`: each known split, whether found, in which layout, how many
    samples, where, and its image folder. Found means its annotation files are there and
    hold samples: images are needed only to run a model, so they are reported beside it."""
    root = default_data_root(data_root)
    images: dict[ImageFolders, Path | None] = {}
    refs_cache: dict = {}
    rows = []
    for name, spec in SPLITS.items():
        if spec.images not in images:
            images[spec.images] = find_images(spec.images, root, None, [])
        layout, files, n, error = locate_samples(name, root, refs_cache=refs_cache)
        lay = next((lay for lay in spec.layouts if lay.name == layout), None)
        img = images[spec.images]
        rows.append(
            {
                "split": name,
                "dataset": spec.dataset,
                "partition": spec.partition,
                "found": bool(files) and error is None and n != 0,
                "layout": lay.label if files and lay else None,
                "n_samples": n,
                "error": error,
                "files": [str(f) for f in files],
                "images": str(img) if img else None,
                "images_title": spec.images.title,
                "images_looked": list(spec.images.candidates),
            }
        )
    return rows


def reopen_from_manifest(
    split: dict, task: str, name: str, gt: str, data_root: str | Path | None = None, image_root: str | Path | None = None
) -> tuple[SplitReader | None, str]:
    """A reader for a run's split from its manifest's `split` entry (or from `data_root` by
    name, when given). Returns (reader or None, a sentence saying why not)."""
    try:
        t = Task(task)
    except ValueError:
        return None, f"unknown task {task!r}"
    name = split.get("name") or name
    gt = gt if gt in GT_MODES else "official"
    base = name[: -len("_padt_filtered")] if name.endswith("_padt_filtered") else name
    files = [Path(p) for p in (split.get("files") or {})]
    img_root = image_root or split.get("image_root")
    layout = split.get("layout")
    try:
        if data_root is not None:
            return open_split(base, t, data_root=data_root, image_root=image_root, gt=gt), ""
        if not files or not all(f.is_file() for f in files):
            return (
                None,
                f"the split files named in manifest.json are not on this machine ({', '.join(map(str, files)) or 'none listed'})",
            )
        if img_root is None:
            return None, "manifest.json names no image folder"
        args = OpenArgs(files, Path(img_root), t, name, gt, None)
        spec = splits_for(t).get(base)
        lay = next((lay for lay in spec.layouts if lay.name == layout), None) if spec is not None else None
        if lay is not None and len(lay.files) == 1 and lay.files[0][0].endswith("/") and files:
            # a folder layout (ReasonSeg) lists its files in the manifest: re-open their folder
            return lay.open(OpenArgs([files[0].parent], Path(img_root), t, name, gt, None)), ""
        if lay is not None and len(lay.files) == len(files):
            return lay.open(args), ""
        direct = DIRECT_FILES[t]
        if layout in direct.layouts and len(files) == 1:
            return direct.open(args), ""
        return None, f"cannot re-open a split of layout {layout!r} named {name!r}"
    except PadtEvalError as exc:
        return None, str(exc)
