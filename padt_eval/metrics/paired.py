"""Paired significance for two runs scored on the same samples: bootstrap intervals,
a permutation test, and McNemar's exact test.

Every metric here is a *ratio of sums* over samples, Σnum / Σden: a mean (Acc@t, mean
IoU, mIoU) has den = 1, cIoU has num = intersection and den = union. Treating all of them
this way means a resample recomputes cIoU from resampled intersections and unions (the
ratio of the resampled sums), never averages per-sample ratios.

* **Paired bootstrap.** Each resample draws n sample indices with replacement and applies
  the *same* draw to both runs; the statistic is the difference B − A of the metric
  recomputed on the resample. The 95 % interval is the percentile interval (2.5th and
  97.5th percentiles) of that difference. Resamples are drawn as count vectors (how
  often each sample was drawn) and summed with one matrix product per chunk, so 10,000
  resamples of 10,000 samples take about a second.
* **Paired permutation test** (two-sided). Under the null hypothesis the two runs'
  outputs are exchangeable within each sample, so each resample swaps A and B on a random
  subset of samples (each with probability 1/2) and recomputes the difference. The
  p-value is (1 + #{|Δ*| ≥ |Δ|}) / (1 + R), the add-one Monte Carlo estimate that is never 0.
* **Bootstrap p-value**, for when the two runs define the metric differently (cIoU as
  ΣI/ΣU against the PaDT release's mean of per-sample IoUs), where swapping per-sample
  values between runs would be meaningless: p = 2·min(P*[Δ* ≤ 0], P*[Δ* ≥ 0]) over the
  bootstrap resamples (add-one), i.e. the smallest two-sided level whose percentile
  interval contains 0.
* **McNemar's exact test** for hit/miss metrics (Acc@t): a two-sided binomial test on
  the discordant pairs (A hit / B miss against A miss / B hit), p = min(1, 2·P[X ≤ min(b, c)])
  with X ~ Binomial(b + c, 1/2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
_CELLS_PER_CHUNK = 4_000_000  # resamples × samples held at once (~32 MB as float64)


@dataclass
class RatioData:
    """One metric of one run, per shared sample: value = Σnum / Σden."""

    num: np.ndarray
    den: np.ndarray

    @classmethod
    def mean_of(cls, values: Sequence[float] | np.ndarray) -> RatioData:
        v = np.asarray(values, dtype=np.float64)
        return cls(v, np.ones_like(v))

    def value(self) -> float:
        d = float(self.den.sum())
        return float(self.num.sum()) / d if d else float("nan")


@dataclass
class PairedResult:
    a: float
    b: float
    diff: float
    ci95: tuple[float, float]
    a_ci95: tuple[float, float]
    b_ci95: tuple[float, float]
    p_permutation: float
    p_bootstrap: float
    n: int


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


def _chunks(total: int, n: int) -> list[int]:
    size = max(1, min(total, _CELLS_PER_CHUNK // max(n, 1)))
    out = [size] * (total // size)
    if total % size:
        out.append(total % size)
    return out


def _interval(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(x, [2.5, 97.5])
    return (float(lo), float(hi))


def paired_compare(
    metrics_a: Sequence[RatioData],
    metrics_b: Sequence[RatioData],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[PairedResult]:
    """Bootstrap intervals and permutation p-values for several metrics at once.

    `metrics_a[i]` and `metrics_b[i]` are the same metric of runs A and B on the same n
    samples in the same order. All metrics share the resamples (and the permutation
    draws), so results for one seed are reproducible and mutually consistent.
    """
    if len(metrics_a) != len(metrics_b):
        raise ValueError("metrics_a and metrics_b must list the same metrics")
    k = len(metrics_a)
    n = len(metrics_a[0].num) if k else 0
    for m in (*metrics_a, *metrics_b):
        if len(m.num) != n or len(m.den) != n:
            raise ValueError("every metric must have one value per shared sample")
    if n == 0:
        raise ValueError("no shared samples to compare")
    # Columns: A nums, A dens, B nums, B dens (k each).
    X = np.column_stack(
        [m.num for m in metrics_a] + [m.den for m in metrics_a] + [m.num for m in metrics_b] + [m.den for m in metrics_b]
    ).astype(np.float64)
    total = X.sum(axis=0)
    obs_a = _ratio(total[:k], total[k : 2 * k])
    obs_b = _ratio(total[2 * k : 3 * k], total[3 * k :])
    obs_diff = obs_b - obs_a

    rng = np.random.default_rng(seed)
    boot = np.empty((n_resamples, 4 * k))
    pos = 0
    for size in _chunks(n_resamples, n):
        idx = rng.integers(0, n, size=(size, n), dtype=np.int32)
        idx += (np.arange(size, dtype=np.int32) * n)[:, None]
        counts = np.bincount(idx.ravel(), minlength=size * n).reshape(size, n).astype(np.float64)
        boot[pos : pos + size] = counts @ X
        pos += size
    sa = _ratio(boot[:, :k], boot[:, k : 2 * k])
    sb = _ratio(boot[:, 2 * k : 3 * k], boot[:, 3 * k :])
    bdiff = sb - sa

    # Permutation: swapping A and B on sample i moves (B_i − A_i) from B's sums to A's.
    D = X[:, 2 * k :] - X[:, : 2 * k]  # (num, den) of B minus A
    extreme = np.zeros(k, dtype=np.int64)
    tol = 1e-12 * np.maximum(1.0, np.abs(obs_diff))
    for size in _chunks(n_resamples, n):
        # one fair coin per (resample, sample): the bits of random bytes
        bits = np.unpackbits(np.frombuffer(rng.bytes((size * n + 7) // 8), dtype=np.uint8))[: size * n]
        swap = bits.reshape(size, n).astype(np.float64)
        moved = swap @ D
        pa = total[: 2 * k] + moved
        pb = total[2 * k :] - moved
        pdiff = _ratio(pb[:, :k], pb[:, k:]) - _ratio(pa[:, :k], pa[:, k:])
        with np.errstate(invalid="ignore"):
            extreme += (np.abs(pdiff) >= np.abs(obs_diff) - tol).sum(axis=0)
    p_perm = (1 + extreme) / (1 + n_resamples)
    with np.errstate(invalid="ignore"):
        below = (1 + (bdiff <= 0).sum(axis=0)) / (1 + n_resamples)
        above = (1 + (bdiff >= 0).sum(axis=0)) / (1 + n_resamples)
    p_boot = np.minimum(1.0, 2 * np.minimum(below, above))

    return [
        PairedResult(
            a=float(obs_a[j]),
            b=float(obs_b[j]),
            diff=float(obs_diff[j]),
            ci95=_interval(bdiff[:, j]),
            a_ci95=_interval(sa[:, j]),
            b_ci95=_interval(sb[:, j]),
            p_permutation=float(p_perm[j]),
            p_bootstrap=float(p_boot[j]),
            n=n,
        )
        for j in range(k)
    ]


def mcnemar_exact(hits_a: np.ndarray, hits_b: np.ndarray) -> tuple[float, int, int]:
    """Two-sided exact McNemar test on paired hit/miss outcomes.

    Returns (p, b, c): b = #(A hit, B miss), c = #(A miss, B hit). p = 1 when no pair is
    discordant. Computed with exact integers (no normal approximation).
    """
    a = np.asarray(hits_a, dtype=bool)
    bb = np.asarray(hits_b, dtype=bool)
    b = int(np.sum(a & ~bb))
    c = int(np.sum(~a & bb))
    m = b + c
    if m == 0:
        return 1.0, b, c
    term = tail = 1  # C(m, 0)
    for i in range(1, min(b, c) + 1):
        term = term * (m - i + 1) // i
        tail += term
    return min(1.0, 2 * tail / 2**m), b, c


def paired_mean_interval(a: np.ndarray, b: np.ndarray, z: float = 1.96) -> tuple[float, tuple[float, float]]:
    """Mean of the per-sample differences b − a and its normal-approximation 95 % interval
    (mean ± z·sd/√n, sd with n − 1): the paired t-interval for large n, in O(n) numpy, for
    checks that must cost next to nothing (the chance-level alarm). The bootstrap of
    `paired_compare` is the reference for two real runs; on a mean of per-sample values
    the two agree to the resampling noise for n in the hundreds and up."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    n = d.size
    if n == 0:
        return float("nan"), (float("nan"), float("nan"))
    mean_d = float(d.mean())
    half = z * float(d.std(ddof=1)) / np.sqrt(n) if n > 1 else float("inf")
    return mean_d, (mean_d - half, mean_d + half)
