"""Where every dataset comes from: one table of sources, and which sources make up each dataset.

A `Source` is one file to download: a plain URL or a file of a Hugging Face dataset repo,
with its size and checksums where they are known. `None` means unknown, never guessed:

* COCO archives: sizes, MD5s and SHA-256s as published for images.cocodataset.org and
  confirmed by several independent download scripts (train2014.zip: size and MD5 only).
* refer archives (refcoco.zip ...): the original UNC host is gone; the files are the
  Internet Archive captures that PaDT's README names (`id_` = the raw bytes). Sizes and
  SHA-256s are those reported by independent verified downloads of these captures.
* gRefCOCO (FudanCVL/gRefCOCO, the Hub copy the gRefCOCO README links): no published
  checksum, verified like the other Hub files; the file names are those of the layout ReLA's
  `datasets/DATASET.md` documents and were not checked against the Hub listing here.
* Hugging Face files (PaDT-MLLM/*): no published checksum; each download is verified
  against the SHA-256 (LFS/Xet files) or git blob SHA-1 (small files) that the Hub reports
  for it, and the commit it came from is recorded.

An `Output` says what a source installs under the data root, in the layout the split
table lists (`padt_eval/data/split_table.py`); which splits a dataset provides is asked of
that table too (`splits_fetched_by`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from padt_eval.data.split_table import (
    COCO_ANNOTATIONS,
    GREFCOCO_FILES,
    PADT_COCO_JSONL,
    PADT_JSONL_DIRS,
    REASONSEG_DIRS,
    REF_L4_IMAGES,
    REFCOCO_M_FILES,
    REVIEWED_SPLITS,
    RIC_JSONL,
    TRAIN2014,
    VAL2017,
    ref_l4_parquet,
    reviewed_file,
    splits_fetched_by,
)
from padt_eval.fetch.errors import FetchError

WAYBACK = "https://web.archive.org/web"
REFER_HOST = "https://bvisionweb1.cs.unc.edu/licheng/referit/data"
COCO_HOST = "http://images.cocodataset.org"

# Where outputs go: the first place the split table lists for each kind of file.
COCO_TRAIN2014_DIR = TRAIN2014.candidates[0]  # coco/train2014
PADT_REFCOCO_DIR = PADT_JSONL_DIRS[0]  # PaDT-MLLM/RefCOCO
COCO_VAL2017_DIR = VAL2017.candidates[0]  # coco/val2017
COCO_INSTANCES_VAL2017 = COCO_ANNOTATIONS[0]  # coco/annotations/instances_val2017.json
PADT_COCO_FILE = PADT_COCO_JSONL[0]  # PaDT-MLLM/COCO/instances_val2017.json
PADT_RIC_FILE = RIC_JSONL[0]  # PaDT-MLLM/ReferringImageCaptioning/ric_instances_val2017.json


@dataclass(frozen=True)
class Output:
    """One thing a source installs: a folder or a file, `dest` relative to the data root.

    `member` is the folder prefix (ending in "/") or file path inside the archive, "" for a
    folder that is the whole archive (a tar of loose images); None for a source that is
    itself the file. `required` names files a folder must hold;
    `n_files` is how many files the folder holds, when known.
    """

    dest: str
    member: str | None = None
    required: tuple[str, ...] = ()
    n_files: int | None = None

    @property
    def is_dir(self) -> bool:
        return self.member is not None and (self.member == "" or self.member.endswith("/"))


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    outputs: tuple[Output, ...]
    url: str | None = None
    hf_repo: str | None = None  # a dataset repo id
    hf_file: str | None = None
    hf_revision: str = "main"
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    checksum_note: str = ""
    unpacked_size: int | None = None  # bytes the unpacked outputs take, for the disk check

    @property
    def is_archive(self) -> bool:
        return any(o.member is not None for o in self.outputs)

    @property
    def where(self) -> str:
        """The URL, or `hf://datasets/<repo>/<file>` for a Hub file: what messages name."""
        if self.url is not None:
            return self.url
        return f"hf://datasets/{self.hf_repo}/{self.hf_file}"

    @property
    def filename(self) -> str:
        """The name the download gets in the downloads folder."""
        if self.hf_file is not None:
            return f"{self.hf_repo.replace('/', '--')}--{self.hf_file.replace('/', '--')}"
        assert self.url is not None
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DatasetSpec:
    """A name for `padt-eval data fetch`, with its sources for each kind of annotations.

    `annotations` maps `official` and/or `padt` to source keys; a dataset with one kind only
    gets it whatever is asked. `needs` names datasets whose files it also reads (images).
    """

    name: str
    description: str
    annotations: dict[str, tuple[str, ...]]
    default: str
    needs: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _refer_zip(dataset: str, stamp: str, size: int, sha256: str, split_by: str) -> Source:
    return Source(
        key=f"{dataset}-refer",
        title=f"{dataset} refer archive ({dataset}.zip)",
        url=f"{WAYBACK}/{stamp}id_/{REFER_HOST}/{dataset}.zip",
        size=size,
        sha256=sha256,
        checksum_note="size and SHA-256 reported by independent verified downloads of this capture",
        outputs=(Output(dest=dataset, member=f"{dataset}/", required=("instances.json", f"refs({split_by}).p")),),
        unpacked_size=4 * size,
    )


def _padt_split_file(split: str) -> Source:
    return Source(
        key=f"padt-{split}",
        title=f"PaDT JSONL {split}",
        hf_repo="PaDT-MLLM/RefCOCO",
        hf_file=f"{split}.json",
        checksum_note="verified against the Hub's SHA-256 at download time",
        outputs=(Output(dest=f"{PADT_REFCOCO_DIR}/{split}.json"),),
    )


_SOURCES: list[Source] = [
    _refer_zip(
        "refcoco", "20220413011718", 53_993_993, "7f924bb7ed8dc4568058e4ff626281918d56e5206f4c868c5a80f088f38c8bf0", "unc"
    ),
    _refer_zip(
        "refcoco+", "20220413011656", 45_613_210, "5f1238112d63199e68da54a28f201471909b21ded7ed79a57d51b4c1443c6b45", "unc"
    ),
    _refer_zip(
        "refcocog", "20220413012904", 56_712_951, "3d1f7e5b2ff2205940bf59de55f861f5f2cc1403fb980669933a7f9af1aa8211", "umd"
    ),
    *[_padt_split_file(s) for d in ("refcoco", "refcoco+", "refcocog") for s in splits_fetched_by(d)],
    Source(
        key="coco-train2014",
        title="COCO train2014 images (train2014.zip)",
        url=f"{COCO_HOST}/zips/train2014.zip",
        size=13_510_573_713,
        md5="0da8c0bd3d6becc4dcb32757491aca88",
        checksum_note="size and MD5 as published; no SHA-256 confirmed from the official host",
        outputs=(Output(dest=COCO_TRAIN2014_DIR, member="train2014/", n_files=82_783),),
        unpacked_size=13_510_573_713,
    ),
    Source(
        key="coco-val2017",
        title="COCO val2017 images (val2017.zip)",
        url=f"{COCO_HOST}/zips/val2017.zip",
        size=815_585_330,
        md5="442b8da7639aecaf257c1dceb8ba8c80",
        sha256="4f7e2ccb2866ec5041993c9cf2a952bbed69647b115d0f74da7ce8f4bef82f05",
        checksum_note="size, MD5 and SHA-256 as published and independently confirmed",
        outputs=(Output(dest=COCO_VAL2017_DIR, member="val2017/", n_files=5_000),),
        unpacked_size=815_585_330,
    ),
    Source(
        key="coco-annotations2017",
        title="COCO 2017 annotations (annotations_trainval2017.zip; only instances_val2017.json is kept)",
        url=f"{COCO_HOST}/annotations/annotations_trainval2017.zip",
        size=252_907_541,
        md5="f4bbac642086de4f52a3fdda2de5fa2c",
        sha256="113a836d90195ee1f884e704da6304dfaaecff1f023f49b6ca93c4aaae470268",
        checksum_note="size, MD5 and SHA-256 as published and independently confirmed",
        outputs=(Output(dest=COCO_INSTANCES_VAL2017, member="annotations/instances_val2017.json"),),
        unpacked_size=30_000_000,
    ),
    Source(
        key="padt-coco-val2017",
        title="PaDT COCO val2017 JSONL (instances_val2017.json)",
        hf_repo="PaDT-MLLM/COCO",
        hf_file="instances_val2017.json",
        checksum_note="verified against the Hub's SHA-256 at download time",
        outputs=(Output(dest=PADT_COCO_FILE),),
    ),
    Source(
        key="padt-ric-val2017",
        title="PaDT RIC val2017 JSONL (ric_instances_val2017.json)",
        hf_repo="PaDT-MLLM/ReferringImageCaptioning",
        hf_file="ric_instances_val2017.json",
        checksum_note="verified against the Hub's SHA-256 at download time; file name inferred from PaDT's "
        "preprocessing output and training scripts",
        outputs=(Output(dest=PADT_RIC_FILE),),
    ),
]


def _grefcoco_file(key: str, name: str, dest: str) -> Source:
    return Source(
        key=key,
        title=f"gRefCOCO {name}",
        hf_repo="FudanCVL/gRefCOCO",
        hf_file=name,
        checksum_note="verified against the Hub's SHA-256 at download time; file name from ReLA's datasets/DATASET.md "
        "layout, not checked against the Hub listing",
        outputs=(Output(dest=dest),),
    )


_SOURCES += [
    _grefcoco_file("grefcoco-grefs", "grefs(unc).json", GREFCOCO_FILES[0][0]),
    _grefcoco_file("grefcoco-instances", "instances.json", GREFCOCO_FILES[1][0]),
]


# ---- Ref-L4 (HF JierunChen/Ref-L4, data CC BY-NC 4.0) -----------------------------------
# File names from the dataset card's file tree. No checksum is published: each file is
# verified against the SHA-256 the Hub reports at download time. images.tar.gz (3.51 GB
# on the Hub's listing) is a gzipped tar of loose images: Ref-L4's own loader
# (ref_l4/dataloader.py) keys each image by its member name and looks it up by the
# annotation's `file_name`, so the whole archive unpacks into ref_l4/images as it is.
REF_L4_REPO = "JierunChen/Ref-L4"
REF_L4_NOTE = "verified against the Hub's SHA-256 at download time; file name from the dataset card's file tree"


def _ref_l4_file(key: str, title: str, name: str, dest: str) -> Source:
    return Source(
        key=key, title=title, hf_repo=REF_L4_REPO, hf_file=name, checksum_note=REF_L4_NOTE, outputs=(Output(dest=dest),)
    )


_SOURCES += [
    *(
        _ref_l4_file(f"ref-l4-{s}", f"Ref-L4 {s} (ref-l4-{s}.parquet)", f"ref-l4-{s}.parquet", ref_l4_parquet(s)[0])
        for s in ("val", "test")
    ),
    *(
        _ref_l4_file(
            f"ref-l4-reviewed-{d}-{s}",
            f"Ref-L4's reviewed {d} {s} ({d}_{s}_reviewed.json)",
            f"refcocos_annotation_reviewed/{d}_{s}_reviewed.json",
            reviewed_file(d, s)[0],
        )
        for d, _, s in REVIEWED_SPLITS
    ),
    Source(
        key="ref-l4-images",
        title="Ref-L4 images (images.tar.gz, 3.51 GB, unpacked into ref_l4/images)",
        hf_repo=REF_L4_REPO,
        hf_file="images.tar.gz",
        checksum_note=REF_L4_NOTE,
        outputs=(Output(dest=REF_L4_IMAGES.candidates[0], member=""),),
        unpacked_size=3_600_000_000,  # JPEGs: about the archive's size
    ),
]
# ---- end Ref-L4 -------------------------------------------------------------------------
# --- RefCOCO-M (moondream/refcoco-m, MIT) and ReasonSeg (LISA) ---
# RefCOCO-M: the two parquet files of the release (data/validation-0000{0,1}-of-00002.parquet,
# 308 MB and 302 MB in the Hub listing); no published checksum, verified like every Hub file.
# ReasonSeg: LISA publishes its zips in a Google Drive folder only, which no plain URL reaches;
# the val.zip here is the copy in the Hub dataset 594zyc/GROUNDHOG-RAW (GROUNDHOG's raw data),
# whose LFS pointer gives its size and SHA-256. Its inner folder name (val/) is LISA's layout,
# not checked against the archive. test.zip has no Hub copy found: fetched by hand (notes below).
_SOURCES += [
    Source(
        key=f"refcoco-m-{k}",
        title=f"RefCOCO-M parquet {k + 1} of 2",
        hf_repo="moondream/refcoco-m",
        hf_file=f"data/validation-0000{k}-of-00002.parquet",
        checksum_note="verified against the Hub's SHA-256 at download time",
        outputs=(Output(dest=REFCOCO_M_FILES[k][0]),),
    )
    for k in range(2)
]
_SOURCES.append(
    Source(
        key="reasonseg-val",
        title="ReasonSeg val (LISA's val.zip, Hub copy in 594zyc/GROUNDHOG-RAW)",
        hf_repo="594zyc/GROUNDHOG-RAW",
        hf_file="ReasonSeg/val.zip",
        size=277_101_832,
        sha256="9248ec018f5896b91c09089d9c7cf3229102063985e6af6884a21bfea70d199c",
        checksum_note="size and SHA-256 from the Hub's LFS pointer of this file; a third-party copy of LISA's val.zip",
        outputs=(Output(dest=f"{REASONSEG_DIRS[0]}/val", member="val/"),),
        unpacked_size=300_000_000,
    )
)

SOURCES: dict[str, Source] = {s.key: s for s in _SOURCES}


def _refer_dataset(name: str, label: str) -> DatasetSpec:
    splits = splits_fetched_by(name)
    return DatasetSpec(
        name=name,
        description=f"{label} annotations ({', '.join(splits)})",
        annotations={"official": (f"{name}-refer",), "padt": tuple(f"padt-{s}" for s in splits)},
        default="official",
        needs=("coco-train2014-images",),
    )


DATASETS: dict[str, DatasetSpec] = {
    d.name: d
    for d in [
        _refer_dataset("refcoco", "RefCOCO"),
        _refer_dataset("refcoco+", "RefCOCO+"),
        _refer_dataset("refcocog", "RefCOCOg"),
        DatasetSpec(
            name="coco-train2014-images",
            description="COCO train2014 images (the RefCOCO/+/g images), 13.5 GB",
            annotations={"images": ("coco-train2014",)},
            default="images",
        ),
        DatasetSpec(
            name="coco-val2017",
            description="COCO val2017 images + instances_val2017.json (OVD)",
            annotations={"official": ("coco-val2017", "coco-annotations2017"), "padt": ("coco-val2017", "padt-coco-val2017")},
            default="official",
        ),
        DatasetSpec(
            name="grefcoco",
            description=f"gRefCOCO annotations, GREC and GRES with 0/1/many targets ({', '.join(splits_fetched_by('grefcoco'))})",
            annotations={"official": ("grefcoco-grefs", "grefcoco-instances")},
            default="official",
            needs=("coco-train2014-images",),
            notes=("licence not stated in the gRefCOCO README; the images are COCO train2014",),
        ),
        DatasetSpec(
            name="ref-l4",
            description="Ref-L4 annotations (ref_l4_val, ref_l4_test) and its reviewed RefCOCO/+/g "
            f"({', '.join(s for s in splits_fetched_by('ref-l4') if s.endswith('_cleaned'))})",
            annotations={"official": ("ref-l4-val", "ref-l4-test", *(f"ref-l4-reviewed-{d}-{s}" for d, _, s in REVIEWED_SPLITS))},
            default="official",
            needs=("ref-l4-images",),
            notes=(
                "data CC BY-NC 4.0, code MIT (Ref-L4 README)",
                "the *_cleaned splits also read the refer archives: data fetch refcoco refcoco+ refcocog",
            ),
        ),
        DatasetSpec(
            name="ref-l4-images",
            description="Ref-L4 images (images.tar.gz, 3.51 GB, unpacked into ref_l4/images)",
            annotations={"images": ("ref-l4-images",)},
            default="images",
        ),
        DatasetSpec(
            name="refcoco-m",
            description="RefCOCO-M: RefCOCO (unc) val with re-segmented masks, RES and REC (moondream/refcoco-m, MIT)",
            annotations={"official": ("refcoco-m-0", "refcoco-m-1")},
            default="official",
            needs=("coco-train2014-images",),
            notes=("licence MIT (dataset card); the parquet files also carry the images, which padt-eval does not read",),
        ),
        DatasetSpec(
            name="reasonseg",
            description="ReasonSeg (LISA) val; test by hand (LISA's Google Drive folder)",
            annotations={"official": ("reasonseg-val",)},
            default="official",
            notes=(
                "test.zip is in LISA's Google Drive folder only "
                "(https://drive.google.com/drive/folders/125mewyg5Ao6tZ3ZdJ-1-E3n04LGVELqy): "
                f"unpack it so that the images and JSONs lie in <data-root>/{REASONSEG_DIRS[0]}/test",
                "Ricky06662/ReasonSeg_val and ReasonSeg_test (Hub, CC BY-NC 4.0) hold rasterised boolean masks "
                "without the ignore regions: not LISA's ground truth, not read here",
            ),
        ),
        DatasetSpec(
            name="ric",
            description="Referring Image Captioning val set (PaDT-MLLM/ReferringImageCaptioning)",
            annotations={"padt": ("padt-ric-val2017",)},
            default="padt",
            needs=("coco-val2017",),
        ),
    ]
}

ANNOTATION_CHOICES = ("official", "padt", "both")


@dataclass(frozen=True)
class Catalog:
    """The sources and datasets a fetch uses; tests swap in one that points at a local server."""

    sources: dict[str, Source]
    datasets: dict[str, DatasetSpec]

    def source_keys(self, dataset: str, annotations: str) -> list[tuple[str, str]]:
        """(annotation kind, source key) pairs to fetch for `dataset`, in order, without repeats."""
        spec = self.datasets[dataset]
        if len(spec.annotations) == 1:
            kinds = list(spec.annotations)
        elif annotations == "both":
            kinds = list(spec.annotations)
        elif annotations in spec.annotations:
            kinds = [annotations]
        else:
            raise FetchError(f"{dataset} has no {annotations!r} annotations; choose one of {', '.join(spec.annotations)} or both")
        seen: set[str] = set()
        out = []
        for kind in kinds:
            for key in spec.annotations[kind]:
                if key not in seen:
                    seen.add(key)
                    out.append((kind, key))
        return out


CATALOG = Catalog(SOURCES, DATASETS)
