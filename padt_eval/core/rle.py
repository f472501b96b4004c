"""COCO RLE helpers: the mask interchange format everywhere in padt-eval.

A mask is `{"size": [height, width], "counts": str}` (compressed COCO RLE, counts as a
UTF-8 string so it survives JSON). All area and intersection computations stay on RLE;
nothing here decodes a mask to a full array except `decode`, which tests and
visualisations use.

pycocotools' `mask.area` overflows on lists of 256 or more RLEs under numpy 2 (it sizes
an internal array with uint8), so every batched call here goes through `_chunks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from pycocotools import mask as cocomask

from padt_eval.core.types import RLE

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
    """COCO polygon segmentation (list of flat x,y lists) → one merged RLE.

    ValueError names the polygon and point that is not a finite number."""
    parts = cocomask.frPyObjects([_polygon_coords(p, i) for i, p in enumerate(polygons)], height, width)
    return from_cocotools(cocomask.merge(parts))


def _polygon_coords(polygon: object, index: int) -> list[float]:
    # Only what pycocotools cannot take is refused: short polygons occur in COCO itself.
    if type(polygon) is not list or not polygon or len(polygon) % 2:
        raise ValueError(f"polygon {index} must be a flat list of x, y pairs, got {type(polygon).__name__} {polygon!r:.60}")
    for j, v in enumerate(polygon):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"polygon {index}, coordinate {j} must be a finite number, got {v!r:.40}")
    return [float(v) for v in polygon]


def from_segmentation(segmentation, height: int, width: int) -> RLE:
    """Any COCO `segmentation` value (polygons, compressed or uncompressed RLE) → RLE.

    Read from files, so checked first: ValueError says what is wrong."""
    if isinstance(segmentation, list):
        return from_polygons(segmentation, height, width)
    if isinstance(segmentation, dict):
        why = problem(segmentation)
        if why is not None:
            raise ValueError(f"segmentation is not a valid COCO RLE: {why}")
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


# Longest character group of a compressed count: pycocotools writes a run-length delta
# (|delta| < 2**32, 33 signed bits) five bits a character, so 7 characters at most.
_MAX_GROUP = 7
_MAX_PIXELS = 2**32  # pycocotools stores sizes and runs as 32-bit unsigned ints


def problem(rle: object) -> str | None:
    """What is wrong with an untrusted RLE, or None when it is safe to hand to pycocotools.

    Structural checks (`size` two non-negative ints, `counts` a string or a list of ints)
    and the run lengths themselves: every run non-negative and their sum exactly
    height × width. pycocotools checks none of this, and a bad counts string sends its
    C loops off the end of the buffer or through billions of pixels (a hang, or a crash),
    so this runs before any pycocotools call on a mask read from a file. The work is
    bounded by the length of `counts` (a few numpy passes over it).
    """
    bad_size = size_problem(rle)
    if bad_size is not None:
        return bad_size
    h, w = rle["size"]  # size_problem checked: a dict whose size is two non-negative ints
    if h * w >= _MAX_PIXELS:
        return f"'size' {[h, w]} has more pixels than COCO RLE can hold"
    counts = rle.get("counts")
    if type(counts) is list:
        runs = _list_runs(counts)
        if isinstance(runs, str):
            return runs
    elif type(counts) in (str, bytes):
        runs = _string_runs(counts)
        if isinstance(runs, str):
            return runs
    else:
        return f"'counts' must be a string (compressed) or a list of run lengths, got {type(counts).__name__}"
    total = int(runs.sum()) if len(runs) else 0
    if total != h * w:
        return f"run lengths sum to {total:,}, not height × width = {h * w:,}"
    return None


def is_valid(rle: object) -> bool:
    """True when `problem(rle)` finds nothing wrong."""
    return problem(rle) is None


def _list_runs(counts: list) -> np.ndarray | str:
    """Uncompressed counts (a list of ints): the runs, or what is wrong with them."""
    for i, v in enumerate(counts):
        if type(v) is not int:
            return f"'counts'[{i}] must be an integer run length, got {v!r}"
        if v < 0 or v >= _MAX_PIXELS:
            return f"'counts'[{i}] = {v} is not a run length (0 ≤ run < 2**32)"
    return np.asarray(counts, dtype=np.int64)


_ALPHABET = bytes(range(48, 112))  # '0'..'o': six bits a character, offset 48


def _string_runs(counts: str | bytes) -> np.ndarray | str:
    """Decode compressed COCO counts (pycocotools' `rleFrString`) with numpy, checking as
    it goes: the runs, or what is wrong with the string. A dozen numpy passes over the
    string, so it costs a few times one RLE intersection; it runs once per mask read."""
    if isinstance(counts, str):
        if not counts.isascii():
            return "'counts' has characters outside the COCO RLE alphabet ('0'..'o')"
        counts = counts.encode("ascii")
    if not counts:
        return np.zeros(0, dtype=np.int64)
    if counts.translate(None, _ALPHABET):  # anything left is outside the alphabet
        bad = next(i for i, ch in enumerate(counts) if not 48 <= ch < 112)
        return f"'counts' has a character outside the COCO RLE alphabet ('0'..'o') at position {bad}: {chr(counts[bad])!r}"
    u = np.frombuffer(counts, dtype=np.uint8)
    last = u < 80  # no continuation bit (0x20 after the offset 48): the character ends a run length
    if not last[-1]:
        return "'counts' ends inside a run length (its last character has the continuation bit)"
    c = u.astype(np.int64)
    c -= 48
    # Five bits a character, least significant first; a run length's last character is a
    # signed 5-bit digit (bit 4 the sign), the others unsigned.
    digits = (c & 0x1F) - ((c & 0x10) << 1) * last
    ends = np.flatnonzero(last)
    if len(ends) == len(c):  # every run length one character long: common, and cheap
        runs = digits
    else:
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        lengths = ends - starts + 1
        if int(lengths.max()) > _MAX_GROUP:
            return f"'counts' has a run length longer than {_MAX_GROUP} characters"
        k = np.arange(len(c))
        k -= np.repeat(starts, lengths)
        runs = np.add.reduceat(digits << (5 * k), starts)
    # From the third run on, each value is a delta against the run two before it.
    runs[2::2] = np.cumsum(runs[2::2])
    if len(runs) > 3:
        runs[3::2] = runs[1] + np.cumsum(runs[3::2])
    if int(runs.min()) < 0 or int(runs.max()) >= _MAX_PIXELS:
        i = int(np.flatnonzero((runs < 0) | (runs >= _MAX_PIXELS))[0])
        return f"'counts' decodes to run {i} of length {int(runs[i])}, not a run length (0 ≤ run < 2**32)"
    return runs


def problems(rles: Sequence[object]) -> list[str | None]:
    """`[problem(r) for r in rles]`, with the compressed counts of them all checked together.

    The per-mask check costs about a dozen numpy calls, which for the few hundred characters
    of a typical mask is almost all call overhead; here a block of counts strings joined end
    to end is checked in one pass (`_joined_areas`). A block it does not pass, and every RLE
    it does not take (an uncompressed or empty counts, an unusual structure), goes through
    `problem` itself, mask by mask, so the verdicts and messages are exactly `problem`'s."""
    return checked(rles)[0]


def checked(rles: Sequence[object]) -> tuple[list[str | None], np.ndarray]:
    """`problems(rles)`, and the pixel area of each valid mask whose counts the joined pass
    decoded (int64; -1 for the others): `mask.area`'s number, which a caller then need
    not ask pycocotools for (it would decode the string once more)."""
    out: list[str | None] = [None] * len(rles)
    areas = np.full(len(rles), -1, dtype=np.int64)
    batch: list[int] = []
    strings: list[bytes] = []
    pixels: list[int] = []
    for i, r in enumerate(rles):
        if type(r) is dict:
            size, counts = r.get("size"), r.get("counts")
            if type(size) in (list, tuple) and len(size) == 2 and type(counts) is str and counts and counts.isascii():
                h, w = size
                if type(h) is int and type(w) is int and h >= 0 and w >= 0 and h * w < _MAX_PIXELS:
                    batch.append(i)
                    strings.append(counts.encode("ascii"))
                    pixels.append(h * w)
                    continue
        out[i] = problem(r)
    for start in range(0, len(batch), _JOINED):
        part = slice(start, start + _JOINED)
        found = _joined_areas(strings[part], pixels[part])
        if found is not None:
            areas[batch[part]] = found
            continue
        for i in batch[part]:
            out[i] = problem(rles[i])
    return out, areas


#: Counts strings checked in one joined pass: enough that the numpy calls' overhead is
#: spread thin, few enough that the temporaries stay small (measured on 50,000
#: RefCOCO-sized masks, CPU seconds: joins of 32 0.72, of 128 0.46, of 1024 0.64).
_JOINED = 128
#: Longest join `_joined_areas` decides itself: its int64 sums stay exact below it.
_MAX_JOINED_CHARS = 2**26


def _joined_areas(strings: list[bytes], pixels: list[int]) -> np.ndarray | None:
    """Each string's foreground area (the sum of its runs at odd positions; -1 for all of
    them where one has a run length pycocotools misreads, below) when every one
    of these non-empty ASCII counts strings passes every check that
    `_string_runs` and `problem` make (alphabet, no cut-off run length, run lengths of at
    most `_MAX_GROUP` characters, every run in [0, 2**32), their sum = its pixel count,
    which the caller has checked is below 2**32); None when one may not, and the caller
    checks each. The same decoding as `_string_runs`, on all strings joined, in few passes:

    * a run length's value is read from its last character up (Horner), for the quarter of
      them that span two or more characters, one character position a round;
    * the delta rule (from the third run on, each value is a delta against the run two
      before) becomes running sums over the joined runs taken at even and at odd positions
      (both parities of a string are contiguous there), each string's values being the
      running sum less its value where the string begins; so that the third run's delta
      is against the first run and not before, the first run is taken out of it;
    * then per string and parity, the least and greatest value (`reduceat`) bound every
      run, and the sums of the values give the pixel count.
    """
    joined = b"".join(strings)
    if len(joined) >= _MAX_JOINED_CHARS or joined.translate(None, _ALPHABET):  # too long, or outside '0'..'o'
        return None
    n = len(strings)
    u = np.frombuffer(joined, dtype=np.uint8)
    string_end = np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=n))  # exclusive
    if int(u[string_end - 1].max()) >= 80:  # a string ends inside a run length (continuation bit)
        return None
    # every string's last character ends a run length, so none spans two strings
    ends = np.flatnonzero(u < 80)
    d = u[ends].astype(np.int64)
    d -= 48
    d -= (d & 0x10) << 1  # the last character's five bits are a signed digit
    # The earlier characters are unsigned digits, least significant first: Horner's rule
    # from the last character back. ends[0] - 1 is -1, the block's last character: an end.
    longer = np.flatnonzero(u[ends - 1] >= 80)
    back = 1
    while len(longer):
        if back == _MAX_GROUP:  # a run length of more than _MAX_GROUP characters
            return None
        at = ends[longer] - back
        d[longer] = d[longer] * 32 + ((u[at] - 48) & 0x1F)
        longer = longer[u[at - 1] >= 80]
        back += 1
    last_run = np.searchsorted(ends, string_end - 1)
    first_run = np.empty_like(last_run)
    first_run[0] = 0
    first_run[1:] = last_run[:-1] + 1
    chained = first_run[last_run - first_run >= 2]
    d[chained + 2] -= d[chained]
    total = np.zeros(n, dtype=np.int64)
    parts: list[np.ndarray] = []  # per parity of the join, each string's sum of its runs there
    for parity in (0, 1):
        column = d[parity::2]
        m = len(column)
        # run[r] = the sum of column[:r]; run[m + 1] a neutral sentinel ending the last segment
        run = np.empty(m + 2, dtype=np.int64)
        run[0] = 0
        np.cumsum(column, out=run[1 : m + 1])
        row = (first_run - parity + 1) >> 1  # string s has the rows [row[s], row[s + 1]) of this column
        count = np.diff(row, append=m)
        base = run[row]
        has = count > 0  # a string of one run has none at odd positions
        values = run[1:]  # a string's values: these less its base
        run[m + 1] = 0
        sums = np.add.reduceat(values, row)
        run[m + 1] = np.iinfo(np.int64).max
        least = np.minimum.reduceat(values, row)
        run[m + 1] = np.iinfo(np.int64).min
        most = np.maximum.reduceat(values, row)
        # (with every run >= 0, the sum check alone bounds each run by the pixel count; the
        # upper bound is checked too so that the sums below cannot wrap round)
        if bool((has & ((least < base) | (most - base >= _MAX_PIXELS))).any()):
            return None
        parts.append(np.where(has, sums - count * base, 0))
        total += parts[-1]
    if not np.array_equal(total, np.asarray(pixels, dtype=np.int64)):
        return None
    if back == _MAX_GROUP:
        # A run length of 7 characters (|value| >= 2**29) is valid, but pycocotools reads
        # it with a 32-bit shift that overflows: its area of such a mask is not this one.
        return np.full(n, -1, dtype=np.int64)
    # a string's foreground is its runs at odd positions of its own: at odd positions of
    # the join when it starts at an even one, else at even ones
    return np.where(first_run % 2 == 0, parts[1], parts[0])


def size_problem(rle: object) -> str | None:
    """What is wrong with an RLE's structure and `size` only (what `problem` checks before
    its counts): for a mask whose size is read but whose pixels are never used."""
    if type(rle) is not dict:
        return f"must be an object {{'size': [h, w], 'counts': ...}}, got {type(rle).__name__}"
    size = rle.get("size")
    if type(size) not in (list, tuple) or len(size) != 2:
        return f"'size' must be [height, width], got {size!r}"
    h, w = size
    if type(h) is not int or type(w) is not int or h < 0 or w < 0:
        return f"'size' must be two non-negative integers, got {list(size)!r}"
    return None
