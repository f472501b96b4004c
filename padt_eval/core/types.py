"""The plain records that cross stage boundaries.

Readers produce `Sample`s, models receive `ModelRequest`s (never a `Sample`: a request
carries the image and the question, not the answer) and return `Prediction`s, metrics
consume (Sample, Prediction) pairs. Everything here is a dataclass that round-trips
through JSON, so predictions and per-sample records can be written to JSONL and scored
again later without a model.

Conventions (see docs/extending.md, "Conventions"):
* a box is `[x1, y1, x2, y2]` in original-image pixels, floats;
* a mask is COCO RLE `{"size": [height, width], "counts": str}`;
* `sample_id` is a string that is stable across runs and world sizes.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

Box = list[float]
RLE = dict[str, Any]


class Task(str, enum.Enum):
    """The evaluation tasks. The value is what appears in files and on the CLI.

    GREC / GRES are generalized REC / RES (gRefCOCO): an expression names zero, one or
    several objects, and a model may answer "none"."""

    REC = "rec"
    RES = "res"
    OVD = "ovd"
    RIC = "ric"
    GREC = "grec"
    GRES = "gres"


class ParseStatus(str, enum.Enum):
    """What became of one sample's model output.

    OK        the output was read; it may still hold zero objects (a model that says
              "no such object" is answered, not broken).
    FAILED    the output could not be read (malformed text, a VRT run cut off, a box
              that is not four numbers...). `parse_reason` says why.
    MISSING   there is no output for this sample at all (no line in a predictions
              file, or the model was never run on it).
    ERROR     the sample could not be run (unreadable image, ...). `parse_reason` says why.
    """

    OK = "ok"
    FAILED = "failed"
    MISSING = "missing"
    ERROR = "error"


_STATUS_BY_VALUE = {s.value: s for s in ParseStatus}  # a dict lookup is ~10x cheaper than ParseStatus(v)


@dataclass(frozen=True)
class ImageRef:
    """An image on disk that is opened only when a model needs pixels
    (`core.images.open_rgb`: this record stays plain data, and does no I/O).

    `width`/`height` come from the annotation (an RLE's `size`, a COCO `images` entry),
    so nobody has to open the file to learn its size.
    """

    path: str
    width: int
    height: int
    # The folder the path was confined to when it was read; opening re-checks that the
    # file (after following symlinks) is still inside it.
    root: str | None = None


@dataclass
class GroundTruthObject:
    """One annotated object: a referred object, a COCO instance, a grounded phrase."""

    bbox: Box
    mask: RLE | None = None
    label: str | None = None
    category_id: int | None = None
    iscrowd: bool = False
    area: float | None = None


@dataclass
class Sample:
    """One evaluation item: the question (what a model may see) and the answer (what it may not)."""

    sample_id: str
    task: Task
    image: ImageRef
    # What a model may see.
    expression: str | None = None  # REC/RES: the referring expression
    categories: list[str] | None = None  # OVD: the class names asked for, in prompt order
    # What only a metric may see.
    objects: list[GroundTruthObject] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # RIC: reference captions
    meta: dict[str, Any] = field(default_factory=dict)  # source file, line, image id ...

    def request(self, prompt: str | None = None) -> ModelRequest:
        """The model-facing part of this sample. Ground truth is deliberately left behind."""
        return ModelRequest(
            sample_id=self.sample_id,
            task=self.task,
            image=self.image,
            expression=self.expression,
            categories=list(self.categories) if self.categories is not None else None,
            prompt=prompt,
        )


@dataclass(frozen=True)
class PromptKey:
    """Which prompt table a model is asked from: its model family and, for a family with
    several prompt styles (`--prompt-style paper|native`), the style. Written as
    "qwen2_5_vl:paper" (or "padt" without a style) in manifests."""

    family: str
    style: str | None = None

    def __str__(self) -> str:
        return f"{self.family}:{self.style}" if self.style else self.family

    @classmethod
    def parse(cls, text: str) -> PromptKey:
        family, _, style = str(text).partition(":")
        return cls(family, style or None)


@dataclass(frozen=True)
class ModelRequest:
    """Everything a model adapter is given for one sample, and nothing more.

    It has no ground-truth field on purpose: an adapter cannot parse "towards" the
    answer because it never holds it. `prompt` is the task's prompt for the adapter's
    prompt key (`PromptKey`), already filled in.
    """

    sample_id: str
    task: Task
    image: ImageRef
    expression: str | None = None
    categories: list[str] | None = None
    prompt: str | None = None


@dataclass
class ObjectPred:
    """One predicted object in the canonical frame."""

    bbox: Box | None = None
    score: float | None = None
    label: str | None = None
    mask: RLE | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ObjectPred:
        return cls(bbox=d.get("bbox"), score=d.get("score"), label=d.get("label"), mask=d.get("mask"))


@dataclass
class Prediction:
    """A model's answer for one sample, in the canonical frame.

    `meta` carries what a later reader needs to audit the conversion (the processor's
    resized size for Qwen2.5-VL, token counts, the coordinate frame, latency ...).
    """

    sample_id: str
    text: str | None = None
    objects: list[ObjectPred] = field(default_factory=list)
    parse_status: ParseStatus = ParseStatus.OK
    parse_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def missing(cls, sample_id: str, reason: str = "no prediction for this sample") -> Prediction:
        return cls(sample_id=sample_id, parse_status=ParseStatus.MISSING, parse_reason=reason)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sample_id": self.sample_id}
        if self.text is not None:
            out["text"] = self.text
        out["objects"] = [o.to_json() for o in self.objects]
        out["parse_status"] = self.parse_status.value
        if self.parse_reason is not None:
            out["parse_reason"] = self.parse_reason
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Prediction:
        return cls(
            sample_id=str(d["sample_id"]),
            text=d.get("text"),
            objects=[ObjectPred.from_json(o) for o in d.get("objects") or []],
            parse_status=_STATUS_BY_VALUE[d.get("parse_status", "ok")],
            parse_reason=d.get("parse_reason"),
            meta=dict(d.get("meta") or {}),
        )
