"""Predicted class names → dataset category ids, for open-vocabulary detection.

A model writes a class name as text ("Person", "tv ", "hair dryer"). It maps to a category
when, after normalisation (Unicode case folding, surrounding whitespace and quotes
stripped, inner runs of whitespace, `_` and `-` collapsed to one space), it equals a
category name normalised the same way, or one of the synonyms below. Nothing fuzzier: no
plurals, no substring or embedding matches, because every extra rule changes which
detections count and must be visible here.

PaDT's release maps only the lower-cased exact name and silently discards everything
else (`eval_coco.py` L70-76). Here an unmapped detection is also left out of AP, but it is
counted and the most frequent unmapped labels are listed in the results, so a model that
says "sofa" for every couch is seen, not quietly scored as blind.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

#: synonym -> COCO name. PASCAL VOC spellings (which many MLLMs learned), the British /
#: American spellings COCO itself is inconsistent about, and one-word forms of two-word names.
SYNONYMS: dict[str, str] = {
    "aeroplane": "airplane",
    "motorbike": "motorcycle",
    "sofa": "couch",
    "tvmonitor": "tv",
    "tv monitor": "tv",
    "television": "tv",
    "diningtable": "dining table",
    "pottedplant": "potted plant",
    "cellphone": "cell phone",
    "mobile phone": "cell phone",
    "hair dryer": "hair drier",
    "hairdryer": "hair drier",
    "doughnut": "donut",
    "teddybear": "teddy bear",
    "hotdog": "hot dog",
    "wineglass": "wine glass",
    "firehydrant": "fire hydrant",
    "stopsign": "stop sign",
    "trafficlight": "traffic light",
}

_SPACES = re.compile(r"[\s_\-]+")
_QUOTES = "\"'`“”‘’"


def normalise_label(text: str) -> str:
    """The form labels are compared in: case-folded, quotes and outer space stripped,
    inner whitespace / underscores / hyphens collapsed to single spaces."""
    return _SPACES.sub(" ", text.strip().strip(_QUOTES).strip().casefold()).strip()


class LabelMapper:
    """Maps label text to a category id of one dataset, counting what does not map."""

    def __init__(self, categories: Iterable[tuple[int, str]], synonyms: dict[str, str] | None = None) -> None:
        self.categories = [(int(cid), str(name)) for cid, name in categories]
        self._by_name: dict[str, int] = {}
        for cid, name in self.categories:
            self._by_name.setdefault(normalise_label(name), cid)
        for syn, target in (SYNONYMS if synonyms is None else synonyms).items():
            cid = self._by_name.get(normalise_label(target))
            if cid is not None:
                self._by_name.setdefault(normalise_label(syn), cid)
        self._seen: dict[str, int | None] = {}  # raw label -> id; models repeat a few labels

    def category_id(self, label: str | None) -> int | None:
        if label is None:
            return None
        try:
            return self._seen[label]
        except KeyError:
            if len(self._seen) > 100_000:  # a model emitting endless distinct labels
                self._seen.clear()
            cid = self._seen[label] = self._by_name.get(normalise_label(label))
            return cid


def most_common(counter: Counter, n: int = 20) -> list[list]:
    """[[label, count], ...] most frequent first, ties by label (stable across runs)."""
    return [[k, int(v)] for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
