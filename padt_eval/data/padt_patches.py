"""PaDT's "does this object cover a 28-px patch?" rule, reproduced bit for bit without OpenCV.

PaDT's preprocessing (`src/preprocess/process_coco.py`, `process_ric.py`, and
`process_refcoco.py`) keeps an object only if, after its 0/255 mask is resized with
`cv2.resize(mask * 255, (W', H'))` to the nearest multiple of 28 on each side, at least
one 28×28 patch has a mean value >= 255/28 (about 1/28 of the patch covered). The
filtered objects vanish from PaDT's answer templates and from the ground truth its OVD
script scores against.

OpenCV is not a dependency of padt-eval, so `cv2_resize_linear_u8` re-implements the
one code path that call takes: `INTER_LINEAR` on a single-channel uint8 image, with
OpenCV's fixed-point arithmetic:

* source coordinate `f = float32((d + 0.5) * (1 / (dst / src)) - 0.5)`, `s = floor(f)`,
  weights `rint((1 - f') * 2048)` and `rint(f' * 2048)` with `f' = f - s` in float32;
* along x, a coordinate left of the first or right of the last pixel is clamped *and its
  weight reset* (`f' = 0`); along y only the row index is clamped, the weights stay;
* horizontal pass: `S = p[s] * a0 + p[s + 1] * a1` (exact integers);
* vertical pass as OpenCV's SIMD kernel computes it:
  `((((S0 >> 4) * b0) >> 16) + (((S1 >> 4) * b1) >> 16) + 2) >> 2`, saturated to 0..255.

It was checked equal, pixel for pixel, to `cv2.resize` of opencv-python-headless 4.10.0
and 5.0.0 (x86-64) on 600 random masks of 1-900 px per side; `tests/data/test_coco.py`
repeats that check whenever cv2 is importable and otherwise compares against stored
hashes of OpenCV's output. OpenCV's scalar and SIMD kernels round differently in rare
pixels, so PaDT's own files could differ from this on a platform whose OpenCV build has
no SIMD for this loop; no such platform is known to us.
"""

from __future__ import annotations

import numpy as np

PATCH = 28
_COEF_SCALE = 2048  # OpenCV's INTER_RESIZE_COEF_SCALE (11 fractional bits)


def _axis(src: int, dst: int, reset_weight_at_border: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    scale = 1.0 / (dst / src)  # OpenCV: inv_scale = dst/src, scale = 1/inv_scale (doubles)
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    if reset_weight_at_border:
        low = s < 0
        f[low], s[low] = 0, 0
        high = s >= src - 1
        f[high], s[high] = 0, src - 1
    w1 = np.rint(f.astype(np.float64) * _COEF_SCALE).astype(np.int64)
    w0 = np.rint((np.float32(1) - f).astype(np.float64) * _COEF_SCALE).astype(np.int64)
    return np.clip(s, 0, src - 1), np.clip(s + 1, 0, src - 1), w0, w1


def cv2_resize_linear_u8(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """`cv2.resize(img, (width, height))` (INTER_LINEAR) for a 2-D uint8 image."""
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 image, got {img.dtype} {img.shape}")
    h, w = img.shape
    if (h, w) == (height, width):
        return img.copy()
    x0, x1, a0, a1 = _axis(w, width, reset_weight_at_border=True)
    y0, y1, b0, b1 = _axis(h, height, reset_weight_at_border=False)
    out = np.zeros((height, width), dtype=np.uint8)
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    if rows.size == 0:
        return out
    # An output pixel whose four source taps are all 0 is 0; compute only the others
    # (an object usually covers a small part of the image).
    oy = np.flatnonzero(((y0 >= rows[0]) & (y0 <= rows[-1])) | ((y1 >= rows[0]) & (y1 <= rows[-1])))
    ox = np.flatnonzero(((x0 >= cols[0]) & (x0 <= cols[-1])) | ((x1 >= cols[0]) & (x1 <= cols[-1])))
    src = img.astype(np.int64)
    horiz = src[:, x0[ox]] * a0[ox] + src[:, x1[ox]] * a1[ox]
    top = ((horiz[y0[oy]] >> 4) * b0[oy, None]) >> 16
    bottom = ((horiz[y1[oy]] >> 4) * b1[oy, None]) >> 16
    out[np.ix_(oy, ox)] = np.clip((top + bottom + 2) >> 2, 0, 255)
    return out


def patch_grid_size(height: int, width: int) -> tuple[int, int]:
    """The resized size PaDT uses: each side rounded (half to even) to a multiple of 28."""
    return int(round(height / PATCH) * PATCH), int(round(width / PATCH) * PATCH)


def covered_patches(mask: np.ndarray) -> np.ndarray:
    """Boolean (rows, cols) grid: which 28-px patches the object covers by PaDT's rule."""
    rh, rw = patch_grid_size(*mask.shape)
    if rh == 0 or rw == 0:  # an image under 14 px (PaDT's code would fail here)
        return np.zeros((0, 0), dtype=bool)
    resized = cv2_resize_linear_u8((mask > 0).astype(np.uint8) * 255, rw, rh)
    # The same reduction, in the same order, as the reference (mean of row means).
    means = resized.reshape(rh // PATCH, PATCH, rw // PATCH, PATCH).transpose(0, 2, 1, 3).mean(axis=-1).mean(axis=-1)
    return means >= 255 / PATCH


def covers_a_patch(mask: np.ndarray) -> bool:
    return bool(covered_patches(mask).any())


def box_mask(bbox_xywh: list[float], height: int, width: int) -> np.ndarray:
    """The mask PaDT draws for an annotation without segmentation: the box with its
    corners rounded (Python's round, half to even)."""
    x, y, w, h = bbox_xywh
    m = np.zeros((height, width), dtype=np.uint8)
    m[round(y) : round(y + h), round(x) : round(x + w)] = 1
    return m
