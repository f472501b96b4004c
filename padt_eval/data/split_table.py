"""The split table: every split name padt-eval knows, written as data.

A `SplitSpec` names the tasks that read the split, the layouts its files come in (for each:
the places to look under the data root, in order, and the reader that opens what is
found), the image folder its samples point into, and the `data fetch` dataset that
downloads it. `registry.py` is the one engine over this table (`open_split`,
`split_status` for `splits` and `data status`, `reopen_from_manifest` for reports), and the
fetch catalog takes its install places from the candidates here, so adding a split is
adding one entry to `SPLITS` (see docs/extending.md).

`DIRECT_FILES` says, per task, how a split given by path instead of a name is read.

RefCOCO and RefCOCO+ use the `unc` partition (val, testA, testB); RefCOCOg uses `umd`
(val, test). Each reads from `refer` (`<dataset>/refs(<by>).p` + `<dataset>/instances.json`,
the full official splits; preferred) or `padt-jsonl` (PaDT's processed files, which dropped
tiny-mask samples). `coco_val2017` (OVD) reads the official `instances_val2017.json`
(layout `coco`; `--gt padt-filtered` rebuilds PaDT's filtered GT from it) or PaDT-MLLM/COCO's
JSONL (PaDT's filtered GT only); `ric_val` reads PaDT-MLLM/ReferringImageCaptioning's JSONL. `grefcoco_{val,testA,testB}`
(GREC and GRES, 0/1/many targets) read gRefCOCO's `grefs(unc).json` + `instances.json`
(data/readers/grefcoco.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from padt_eval.core.errors import UsageError
from padt_eval.core.types import Task

if TYPE_CHECKING:  # the readers (numpy, pycocotools ...) are imported by the opener that uses them,
    # so that naming the splits (`--help`, option checks) costs no reader import
    from padt_eval.data.split import SplitReader


@dataclass(frozen=True)
class ImageFolders:
    """Where a split's images are looked for: `candidates` under the data root, and (for a
    split file given by path) `beside_file`, relative to that file's folder."""

    title: str  # "COCO train2014": how messages name the folder
    candidates: tuple[str, ...]
    fetch: str  # the `data fetch` dataset that installs it (at candidates[0])
    beside_file: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenArgs:
    """What a layout's reader is opened with."""

    files: list[Path]  # one per `Layout.files` entry, in that order
    images: Path
    task: Task
    name: str | None  # the reader's split name (None: the reader's default, for a file given by path)
    gt: str
    data_root: Path | None  # None when re-opened from a manifest


@dataclass(frozen=True)
class Layout:
    name: str  # what --layout and manifest.json's split.layout call it
    annotations: str  # the `data fetch --annotations` kind that installs it: official | padt
    title: str  # how messages label the places looked at
    files: tuple[tuple[str, ...], ...]  # for each file the reader needs, its candidates in order
    open: Callable[[OpenArgs], SplitReader]
    # samples its files hold, for `splits` (None: not counted, too costly to read for a listing);
    # the dict is a cache shared by one listing (three splits read the same refs file)
    count: Callable[[list[Path], dict], int] | None = None
    gts: tuple[str, ...] = ("official", "padt-filtered")  # the --gt values it serves
    gt_note: str = ""  # what it holds, when it cannot serve every --gt

    @property
    def label(self) -> str:
        """How `splits` shows it: its name, and what it holds when not every --gt."""
        return f"{self.name} ({self.gt_note})" if self.gt_note else self.name


@dataclass(frozen=True)
class SplitSpec:
    name: str
    tasks: tuple[Task, ...]
    dataset: str  # shown by `splits`
    partition: str  # shown by `splits`
    layouts: tuple[Layout, ...]  # tried in this order under --layout auto
    images: ImageFolders
    fetch: str  # the `data fetch` dataset that installs its annotations
    # A cleaner version of another split: the split whose samples it re-annotates or filters
    # (the label-noise table, report/label_noise.py, sets the two side by side)
    cleaner_of: str | None = None
    needs: tuple[str, ...] = ()  # other `data fetch` datasets whose files it also reads
    scorer: str | None = None  # a benchmark whose own metrics score it (SplitInfo.scorer): "ref_l4", "reasonseg"

    @property
    def fetch_names(self) -> list[str]:
        """What `data fetch` needs for this split: its annotations, then its images."""
        return list(dict.fromkeys((self.fetch, *self.needs, self.images.fetch)))


@dataclass(frozen=True)
class DirectFile:
    """How a task reads a split file given by path."""

    noun: str  # "unknown <noun> 'x'"
    what: str  # "or give the path to <what>"
    layouts: tuple[str, ...]  # the layouts its reader reports
    images: ImageFolders
    open: Callable[[OpenArgs], SplitReader]


TRAIN2014 = ImageFolders(
    "COCO train2014",
    ("coco/train2014", "train2014", "images/train2014", "mscoco/train2014", "images/mscoco/images/train2014"),
    fetch="coco-train2014-images",
    beside_file=("images",),
)
VAL2017 = ImageFolders(
    "COCO val2017",
    ("coco/val2017", "val2017", "coco2017/val2017", "images/val2017", "coco/images/val2017", "COCO/val2017", "mscoco/val2017"),
    fetch="coco-val2017",
    beside_file=("val2017", "../val2017", "images"),
)
PADT_JSONL_DIRS = ("PaDT-MLLM/RefCOCO", "RefCOCO")
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


def count_lines(files: list[Path], _cache: dict) -> int:
    """Non-blank lines of a JSONL split file: one sample each."""
    with open(files[0], "rb") as f:
        return sum(1 for line in f if line.strip())


def _open_padt_refcoco(a: OpenArgs) -> SplitReader:
    from padt_eval.data.instances import find_train2014_instances
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader

    instances = find_train2014_instances(a.data_root, a.images)
    return PadtRefcocoJsonlReader(a.files[0], a.images, a.task, name=a.name, instances_path=instances)


def padt_refcoco_layout(name: str) -> Layout:
    """PaDT's processed RefCOCO/+/g file of split `name` (PaDT-MLLM/RefCOCO/<name>.json)."""
    candidates = tuple(f"{d}/{name}{ext}" for ext in (".json", ".jsonl") for d in PADT_JSONL_DIRS)
    return Layout("padt-jsonl", "padt", "padt-jsonl layout", (candidates,), _open_padt_refcoco, count_lines, gts=("official",))


def refer_layout(dataset: str, split_by: str, split: str) -> Layout:
    """The refer archive of `dataset`: its `split` partition of refs(<split_by>).p."""

    def open_refer(a: OpenArgs) -> SplitReader:
        from padt_eval.data.refer import ReferReader

        return ReferReader(a.files[0], a.files[1], split, a.images, a.task, name=a.name)

    def count_sentences(files: list[Path], cache: dict) -> int:
        refs = cache.get(files[0])
        if refs is None:
            from padt_eval.data.safe_pickle import load_restricted

            refs = cache[files[0]] = load_restricted(files[0])
        return sum(len(r.get("sentences", [])) for r in refs if isinstance(r, dict) and r.get("split") == split)

    files = ((f"{dataset}/refs({split_by}).p",), (f"{dataset}/instances.json",))
    return Layout("refer", "official", "refer layout", files, open_refer, count_sentences, gts=("official",))


def _referring(dataset: str, split_by: str, split: str) -> SplitSpec:
    name = f"{dataset}_{split}"
    layouts = (refer_layout(dataset, split_by, split), padt_refcoco_layout(name))
    return SplitSpec(name, (Task.REC, Task.RES), dataset, f"{split_by}/{split}", layouts, TRAIN2014, fetch=dataset)


def _open_coco(a: OpenArgs) -> SplitReader:
    from padt_eval.data.coco import CocoReader

    return CocoReader(a.files[0], a.images, gt=a.gt, name=a.name)


def _open_padt_coco(a: OpenArgs) -> SplitReader:
    from padt_eval.data.coco import PadtCocoJsonlReader

    return PadtCocoJsonlReader(a.files[0], a.images, name=a.name)


def _open_ric(a: OpenArgs) -> SplitReader:
    from padt_eval.data.ric import RicJsonlReader  # the caption cleaning it needs is imported on use

    return RicJsonlReader(a.files[0], a.images, name=a.name)


_FILTERED_ONLY = "PaDT's filtered GT only"

GREFCOCO_DIRS = ("grefcoco", "gRefCOCO")
GREFCOCO_FILES = (
    tuple(f"{d}/grefs(unc).json" for d in GREFCOCO_DIRS),
    tuple(f"{d}/instances.json" for d in GREFCOCO_DIRS),
)


def _grefcoco(split: str) -> SplitSpec:
    """gRefCOCO `split` (unc partition), read by GREC and GRES."""

    def open_grefcoco(a: OpenArgs) -> SplitReader:
        from padt_eval.data.readers.grefcoco import GrefcocoReader

        return GrefcocoReader(a.files[0], a.files[1], split, a.images, a.task, name=a.name)

    def count_sentences(files: list[Path], cache: dict) -> int:
        from padt_eval.data.readers.grefcoco import count_sentences as count

        return count(files[0], split, cache)

    layout = Layout("grefcoco", "official", "gRefCOCO layout", GREFCOCO_FILES, open_grefcoco, count_sentences, gts=("official",))
    return SplitSpec(
        f"grefcoco_{split}", (Task.GREC, Task.GRES), "grefcoco", f"unc/{split}", (layout,), TRAIN2014, fetch="grefcoco"
    )


# --- ReasonSeg (LISA) and RefCOCO-M: data/readers/reasonseg.py, data/readers/refcoco_m.py ---

#: a ReasonSeg split is a folder of images with their JSONs (a candidate ending in "/" is a folder)
REASONSEG_DIRS = ("reason_seg/ReasonSeg", "ReasonSeg", "reasonseg")
#: its images lie beside the JSONs (the reader reads them from the split's own folder)
REASONSEG_IMAGES = ImageFolders("ReasonSeg (images beside the JSONs)", REASONSEG_DIRS, fetch="reasonseg")


def _reasonseg(split: str, subset: str | None = None) -> SplitSpec:
    """ReasonSeg `split` (val, test), or its short-phrase / long-sentence queries (`subset`)."""

    def open_reasonseg(a: OpenArgs) -> SplitReader:
        from padt_eval.data.readers.reasonseg import ReasonSegReader

        return ReasonSegReader(a.files[0], a.task, name=a.name, subset=subset)

    def count_queries(files: list[Path], _cache: dict) -> int:
        from padt_eval.data.readers.reasonseg import count_queries as count

        return count(files[0], subset)

    folders = tuple(f"{d}/{split}/" for d in REASONSEG_DIRS)
    layout = Layout("reasonseg", "official", "ReasonSeg layout", (folders,), open_reasonseg, count_queries, gts=("official",))
    name = f"reasonseg_{split}_{subset}" if subset else f"reasonseg_{split}"
    partition = f"{split} ({subset} queries)" if subset else split
    return SplitSpec(
        name, (Task.RES,), "reasonseg", partition, (layout,), REASONSEG_IMAGES, fetch="reasonseg", scorer="reasonseg"
    )


REFCOCO_M_DIRS = ("refcoco-m/data", "refcoco-m", "moondream/refcoco-m/data")
REFCOCO_M_FILES = tuple(tuple(f"{d}/validation-0000{k}-of-00002.parquet" for d in REFCOCO_M_DIRS) for k in range(2))


def _open_refcoco_m(a: OpenArgs) -> SplitReader:
    from padt_eval.data.readers.refcoco_m import RefcocoMReader  # pyarrow is imported on use

    parquet = [f for f in a.files if f.suffix == ".parquet"]
    refs = next((f for f in a.files if f.suffix == ".p"), None)
    return RefcocoMReader(parquet, a.images, a.task, name=a.name, refs_path=refs)


def _count_refcoco_m(files: list[Path], cache: dict) -> int:
    from padt_eval.data.readers.refcoco_m import count_sentences

    return count_sentences([f for f in files if f.suffix == ".parquet"], cache)


def _refcoco_m() -> SplitSpec:
    """RefCOCO-M: RefCOCO (unc) val re-segmented, read by RES (its mask) and REC (its box)."""
    # with RefCOCO's refs beside (tried first), samples take RefCOCO's sent_ids: they pair with refcoco_val
    with_refer = Layout(
        "refcoco-m+refer",
        "official",
        "RefCOCO-M parquet + RefCOCO refs",
        (*REFCOCO_M_FILES, ("refcoco/refs(unc).p",)),
        _open_refcoco_m,
        _count_refcoco_m,
        gts=("official",),
    )
    alone = Layout(
        "refcoco-m", "official", "RefCOCO-M parquet", REFCOCO_M_FILES, _open_refcoco_m, _count_refcoco_m, gts=("official",)
    )
    return SplitSpec(
        "refcoco_m_val",
        (Task.REC, Task.RES),
        "refcoco-m",
        "unc/val (re-segmented)",
        (with_refer, alone),
        TRAIN2014,
        fetch="refcoco-m",
        cleaner_of="refcoco_val",  # re-segmented RefCOCO val: the label-noise table pairs them
    )


def _open_grefcoco_file(a: OpenArgs) -> SplitReader:
    from padt_eval.data.readers.grefcoco import GrefcocoReader

    """A grefs(unc).json given by path, every split in it, with instances.json beside it."""
    instances = a.files[1] if len(a.files) > 1 else a.files[0].parent / "instances.json"
    return GrefcocoReader(a.files[0], instances, None, a.images, a.task, name=a.name)


SPLITS: dict[str, SplitSpec] = {
    s.name: s
    for s in [
        _referring("refcoco", "unc", "val"),
        _referring("refcoco", "unc", "testA"),
        _referring("refcoco", "unc", "testB"),
        _referring("refcoco+", "unc", "val"),
        _referring("refcoco+", "unc", "testA"),
        _referring("refcoco+", "unc", "testB"),
        _referring("refcocog", "umd", "val"),
        _referring("refcocog", "umd", "test"),
        SplitSpec(
            "coco_val2017",
            (Task.OVD,),
            "coco",
            "val2017",
            (
                Layout("coco", "official", "official annotations", (COCO_ANNOTATIONS,), _open_coco),
                Layout(
                    "padt-jsonl",
                    "padt",
                    "PaDT COCO JSONL",
                    (PADT_COCO_JSONL,),
                    _open_padt_coco,
                    count_lines,
                    gts=("padt-filtered",),
                    gt_note=_FILTERED_ONLY,
                ),
            ),
            VAL2017,
            fetch="coco-val2017",
        ),
        SplitSpec(
            "ric_val",
            (Task.RIC,),
            "ric",
            "val2017",
            # one sample an image, several caption lines each: lines are not samples, so not counted
            (Layout("padt-jsonl", "padt", "PaDT RIC JSONL", (RIC_JSONL,), _open_ric, gts=("official",)),),
            VAL2017,
            fetch="ric",
        ),
        _grefcoco("val"),
        _grefcoco("testA"),
        _grefcoco("testB"),
        _refcoco_m(),
        _reasonseg("val"),
        _reasonseg("test"),
        _reasonseg("test", "short"),
        _reasonseg("test", "long"),
    ]
}


# ---- Ref-L4 (arXiv 2406.16866; HF JierunChen/Ref-L4) and its reviewed RefCOCO/+/g ----------
# ref_l4_{val,test}: the release's parquet files, images from its images.tar.gz (extracted to
# ref_l4/images). <refcoco split>_cleaned: the refer split minus the expressions Ref-L4's
# review marks erroneous (data/readers/refcoco_reviewed.py); it declares `cleaner_of`.
REF_L4_DIRS = ("ref_l4", "Ref-L4")
REF_L4_IMAGES = ImageFolders(
    "Ref-L4 images",
    tuple(f"{d}/images" for d in REF_L4_DIRS),
    fetch="ref-l4-images",
    beside_file=("images",),
)
REF_L4_REVIEWED_DIR = "refcocos_annotation_reviewed"


def ref_l4_parquet(split: str) -> tuple[str, ...]:
    return tuple(f"{d}/ref-l4-{split}.parquet" for d in REF_L4_DIRS)


def reviewed_file(dataset: str, split: str) -> tuple[str, ...]:
    return tuple(f"{d}/{REF_L4_REVIEWED_DIR}/{dataset}_{split}_reviewed.json" for d in REF_L4_DIRS)


def _count_parquet(files: list[Path], _cache: dict) -> int:
    from padt_eval.data.readers.ref_l4 import count_rows

    return count_rows(files[0])


def _ref_l4(split: str) -> SplitSpec:
    def open_ref_l4(a: OpenArgs) -> SplitReader:
        from padt_eval.data.readers.ref_l4 import RefL4Reader

        return RefL4Reader(a.files[0], a.images, a.task, name=a.name)

    layout = Layout(
        "ref-l4", "official", "Ref-L4 layout", (ref_l4_parquet(split),), open_ref_l4, _count_parquet, gts=("official",)
    )
    return SplitSpec(f"ref_l4_{split}", (Task.REC,), "ref_l4", split, (layout,), REF_L4_IMAGES, fetch="ref-l4", scorer="ref_l4")


def _cleaned(dataset: str, split_by: str, split: str) -> SplitSpec:
    """`<dataset>_<split>_cleaned`: the refer split with Ref-L4's review applied."""

    def open_cleaned(a: OpenArgs) -> SplitReader:
        from padt_eval.data.readers.refcoco_reviewed import ReviewedReferReader

        return ReviewedReferReader(a.files[0], a.files[1], a.files[2], split, a.images, a.task, name=a.name)

    files = ((f"{dataset}/refs({split_by}).p",), (f"{dataset}/instances.json",), reviewed_file(dataset, split))
    layout = Layout("refer+reviewed", "official", "refer layout + Ref-L4 review", files, open_cleaned, gts=("official",))
    return SplitSpec(
        f"{dataset}_{split}_cleaned",
        (Task.REC, Task.RES),
        dataset,
        f"{split_by}/{split}, Ref-L4 reviewed",
        (layout,),
        TRAIN2014,
        fetch="ref-l4",
        cleaner_of=f"{dataset}_{split}",
        needs=(dataset,),
    )


#: the refer splits Ref-L4's review covers: its card lists one reviewed file for each
REVIEWED_SPLITS = (
    ("refcoco", "unc", "val"),
    ("refcoco", "unc", "testA"),
    ("refcoco", "unc", "testB"),
    ("refcoco+", "unc", "val"),
    ("refcoco+", "unc", "testA"),
    ("refcoco+", "unc", "testB"),
    ("refcocog", "umd", "val"),
    ("refcocog", "umd", "test"),
)
SPLITS.update({s.name: s for s in [_ref_l4("val"), _ref_l4("test"), *(_cleaned(*r) for r in REVIEWED_SPLITS)]})
# ---- end Ref-L4 -------------------------------------------------------------------------


def _open_coco_file(a: OpenArgs) -> SplitReader:
    from padt_eval.data.coco import CocoReader, PadtCocoJsonlReader, is_official_instances

    """An official instances file or a PaDT COCO JSONL, told apart by their first line."""
    path = a.files[0]
    if is_official_instances(path):
        return CocoReader(path, a.images, gt=a.gt, name=a.name)
    if a.gt == "official":
        raise UsageError(
            f"{path} is a PaDT COCO JSONL, which holds PaDT's filtered GT only; pass --gt padt-filtered to score against it"
        )
    return PadtCocoJsonlReader(path, a.images, name=a.name)


_REFERRING_FILE = DirectFile("split", "a PaDT JSONL split file", ("padt-jsonl",), TRAIN2014, _open_padt_refcoco)
DIRECT_FILES: dict[Task, DirectFile] = {
    Task.REC: _REFERRING_FILE,
    Task.RES: _REFERRING_FILE,
    Task.OVD: DirectFile("OVD split", "an instances file", ("coco", "padt-jsonl"), VAL2017, _open_coco_file),
    Task.RIC: DirectFile("RIC split", "a PaDT RIC JSONL file", ("padt-jsonl",), VAL2017, _open_ric),
}
_GREFCOCO_FILE = DirectFile(
    "gRefCOCO split", "a grefs(unc).json with instances.json beside it", ("grefcoco",), TRAIN2014, _open_grefcoco_file
)
DIRECT_FILES[Task.GREC] = _GREFCOCO_FILE
DIRECT_FILES[Task.GRES] = _GREFCOCO_FILE


def cleaner_versions() -> dict[str, list[str]]:
    """Each split that has cleaner versions, with them (declared by `SplitSpec.cleaner_of`)."""
    out: dict[str, list[str]] = {}
    for s in SPLITS.values():
        if s.cleaner_of is not None:
            out.setdefault(s.cleaner_of, []).append(s.name)
    return out


def splits_for(task: Task) -> dict[str, SplitSpec]:
    return {name: s for name, s in SPLITS.items() if task in s.tasks}


def splits_fetched_by(dataset: str) -> list[str]:
    """The split names whose annotations `data fetch <dataset>` installs."""
    return [name for name, s in SPLITS.items() if s.fetch == dataset]


def image_folders() -> dict[str, ImageFolders]:
    """Each image folder some split reads, by the `data fetch` dataset that installs it."""
    return {s.images.fetch: s.images for s in SPLITS.values()}
