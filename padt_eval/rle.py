"""COCO RLE helpers: the mask interchange format everywhere in padt-eval.

A mask is `{"size": [height, width], "counts": str}` (compressed COCO RLE, counts as a
UTF-8 string so it survives JSON). All area and intersection computations stay on RLE;
nothing here decodes a mask to a full array except `decode`, which tests and
visualisations use.

pycocotools' `mask.area` overflows on lists of 256 or more RLEs under numpy 2 (it sizes
an internal array with uint8), so every batched call here goes through `_chunks`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from pycocotools import mask as cocomask

from padt_eval.types import RLE

_AREA_CHUNK = 255  # largest list pycocotools' mask.area accepts under numpy 2


def to_cocotools(rle: RLE) -> dict:
    """The form pycocotools wants: counts as bytes, size as a list of two ints.

    Uncompressed RLE (counts as a list of ints, as COCO uses for crowd regions) is
    compressed first.
    """
    counts = rle["counts"]
    if isinstance(counts, str):  # the common case, kept cheap: it runs for every mask scored
        return {"size": rle["size"], "counts": counts.encode("utf-8")}
    h, w = (int(v) for v in rle["size"])
    if isinstance(counts, list):
        return cocomask.frPyObjects({"size": [h, w], "counts": counts}, h, w)
    return {"size": [h, w], "counts": counts}


def normalise(rle: dict) -> RLE:
    """Canonical form (str counts, int size); compresses uncompressed RLE."""
    counts = rle["counts"]
    if isinstance(counts, str):
        return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}
    return from_cocotools(to_cocotools(rle))


def from_cocotools(rle: dict) -> RLE:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("utf-8")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def encode(mask: np.ndarray) -> RLE:
    """Encode a 2-D boolean/uint8 mask (height × width) as compressed RLE with str counts."""
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    arr = np.asfortranarray(mask.astype(np.uint8))
    return from_cocotools(cocomask.encode(arr))


def decode(rle: RLE) -> np.ndarray:
    """Decode to a (height, width) uint8 array of 0/1."""
    return cocomask.decode(to_cocotools(rle))


def empty(height: int, width: int) -> RLE:
    return encode(np.zeros((height, width), dtype=np.uint8))


def from_polygons(polygons: Sequence[Sequence[float]], height: int, width: int) -> RLE:
    """COCO polygon segmentation (list of flat x,y lists) → one merged RLE."""
    parts = cocomask.frPyObjects([list(map(float, p)) for p in polygons], height, width)
    return from_cocotools(cocomask.merge(parts))


def from_segmentation(segmentation, height: int, width: int) -> RLE:
    """Any COCO `segmentation` value (polygons, compressed or uncompressed RLE) → RLE."""
    if isinstance(segmentation, list):
        return from_polygons(segmentation, height, width)
    if isinstance(segmentation, dict):
        return from_cocotools(to_cocotools(segmentation))
    raise ValueError(f"unsupported segmentation of type {type(segmentation).__name__}")


def _chunks(items: Sequence, n: int) -> Iterable[Sequence]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def areas(rles: Sequence[dict]) -> np.ndarray:
    """Pixel areas (int64) of pycocotools-form RLEs, in chunks that avoid the numpy-2 overflow."""
    out = np.empty(len(rles), dtype=np.int64)
    pos = 0
    for chunk in _chunks(list(rles), _AREA_CHUNK):
        out[pos : pos + len(chunk)] = cocomask.area(list(chunk))
        pos += len(chunk)
    return out


def area(rle: RLE) -> int:
    return int(cocomask.area(to_cocotools(rle)))


def intersection(a: dict, b: dict) -> dict:
    """The RLE of a ∧ b (both pycocotools-form, same size)."""
    return cocomask.merge([a, b], intersect=True)


def intersection_and_union(pred: RLE | None, gt: RLE) -> tuple[int, int]:
    """Exact integer |pred ∧ gt| and |pred ∨ gt|, computed on RLE without decoding.

    A missing prediction counts as an empty mask. Sizes must agree; a mismatch raises
    ValueError naming both sizes.
    """
    g = to_cocotools(gt)
    a_g = int(cocomask.area(g))
    if pred is None:
        return 0, a_g
    p = to_cocotools(pred)
    if list(p["size"]) != list(g["size"]):
        raise ValueError(f"predicted mask size {list(p['size'])} differs from ground truth size {list(g['size'])}")
    a_p = int(cocomask.area(p))
    inter = int(cocomask.area(intersection(p, g)))
    return inter, a_p + a_g - inter


def bbox_xyxy(rle: RLE) -> list[float]:
    """Tight box of a mask in pixel-edge coordinates `[x1, y1, x2, y2]` ([0,0,0,0] when empty)."""
    x, y, w, h = cocomask.toBbox(to_cocotools(rle)).tolist()
    return [float(x), float(y), float(x + w), float(y + h)]


def is_valid(rle: object) -> bool:
    """Structural check used when reading untrusted files: `size` is two non-negative
    ints, `counts` a string (compressed) or a list (uncompressed)."""
    if type(rle) is not dict:
        return False
    size = rle.get("size")
    if type(size) not in (list, tuple) or len(size) != 2:
        return False
    h, w = size
    if type(h) is not int or type(w) is not int or h < 0 or w < 0:
        return False
    return type(rle.get("counts")) in (str, bytes, list)
