"""Paired bootstrap, permutation test and McNemar against cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from padt_eval.metrics.paired import RatioData, mcnemar_exact, paired_compare

Z = 1.959963984540054


def test_mean_difference_interval_matches_the_normal_theory_interval():
    # d_i = B_i − A_i ~ N(0.03, 0.2²): the difference of means has SE = sd(d)/√n.
    rng = np.random.default_rng(11)
    n = 4000
    a = rng.normal(0.5, 0.3, n)
    b = a + rng.normal(0.03, 0.2, n)
    (r,) = paired_compare([RatioData.mean_of(a)], [RatioData.mean_of(b)], n_resamples=10_000, seed=1)
    d = b - a
    half = Z * d.std(ddof=1) / math.sqrt(n)
    assert r.diff == pytest.approx(d.mean(), abs=1e-12)
    assert r.ci95[0] == pytest.approx(d.mean() - half, abs=0.08 * half)
    assert r.ci95[1] == pytest.approx(d.mean() + half, abs=0.08 * half)
    # each run's own interval: SE = sd/√n
    half_a = Z * a.std(ddof=1) / math.sqrt(n)
    assert r.a_ci95[1] - r.a_ci95[0] == pytest.approx(2 * half_a, rel=0.08)
    assert r.p_permutation < 1e-3


def test_bernoulli_difference_interval_matches_paired_variance():
    rng = np.random.default_rng(2)
    n = 5000
    a = rng.random(n) < 0.70
    b = np.where(rng.random(n) < 0.8, a, rng.random(n) < 0.9)  # correlated with A, higher rate
    (r,) = paired_compare([RatioData.mean_of(a)], [RatioData.mean_of(b)], n_resamples=5000, seed=3)
    d = b.astype(float) - a.astype(float)
    half = Z * d.std(ddof=1) / math.sqrt(n)
    assert (r.ci95[1] - r.ci95[0]) / 2 == pytest.approx(half, rel=0.08)


def test_coverage_of_the_true_difference_is_about_95_percent():
    # 200 experiments with a known true mean difference of 0.1
    rng = np.random.default_rng(5)
    covered = 0
    reps = 200
    for i in range(reps):
        a = rng.exponential(1.0, 150)
        b = a + 0.1 + rng.normal(0, 0.5, 150)
        (r,) = paired_compare([RatioData.mean_of(a)], [RatioData.mean_of(b)], n_resamples=600, seed=i)
        covered += r.ci95[0] <= 0.1 <= r.ci95[1]
    assert 0.89 <= covered / reps <= 0.99


def test_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(7)
    ps = []
    for i in range(300):
        a = rng.random(120) < 0.6
        b = rng.random(120) < 0.6
        (r,) = paired_compare([RatioData.mean_of(a)], [RatioData.mean_of(b)], n_resamples=500, seed=i)
        ps.append(r.p_permutation)
    ps = np.array(ps)
    assert 0.015 <= (ps < 0.05).mean() <= 0.10
    assert 0.40 <= (ps < 0.5).mean() <= 0.60


def test_ratio_metric_resamples_numerators_and_denominators_together():
    # cIoU = ΣI/ΣU. With U constant it must behave exactly like mean(I)/U.
    rng = np.random.default_rng(4)
    n = 800
    inter_a, inter_b = rng.integers(0, 50, n).astype(float), rng.integers(0, 60, n).astype(float)
    const = np.full(n, 100.0)
    ratio = paired_compare([RatioData(inter_a, const)], [RatioData(inter_b, const)], n_resamples=2000, seed=9)[0]
    mean = paired_compare([RatioData.mean_of(inter_a / 100)], [RatioData.mean_of(inter_b / 100)], n_resamples=2000, seed=9)[0]
    assert ratio.ci95 == pytest.approx(mean.ci95, abs=1e-12)
    assert ratio.p_permutation == mean.p_permutation


def test_ratio_metric_interval_matches_the_delta_method():
    # R = Σx/Σy: Var(R̂) ≈ Var(x − R·y) / (n·E[y]²); the point estimate is the ratio of
    # sums, not the mean of per-sample ratios (which differs a lot here).
    rng = np.random.default_rng(8)
    n = 3000
    y = rng.integers(1, 2000, n).astype(float)
    x = np.floor(y * rng.beta(2, 2, n))
    r = paired_compare([RatioData(x, y)], [RatioData(x, y)], n_resamples=5000, seed=0)[0]
    R = x.sum() / y.sum()
    assert r.a == pytest.approx(R) and r.diff == 0.0 and r.ci95 == (0.0, 0.0)
    se = np.std(x - R * y, ddof=1) / (math.sqrt(n) * y.mean())
    assert (r.a_ci95[1] - r.a_ci95[0]) / 2 == pytest.approx(Z * se, rel=0.08)
    assert r.p_permutation == 1.0  # identical runs


def test_same_seed_same_answer_and_all_metrics_share_draws():
    rng = np.random.default_rng(1)
    a, b = rng.random(300), rng.random(300)
    r1 = paired_compare(
        [RatioData.mean_of(a), RatioData.mean_of(a > 0.5)], [RatioData.mean_of(b), RatioData.mean_of(b > 0.5)], seed=42
    )
    r2 = paired_compare([RatioData.mean_of(a)], [RatioData.mean_of(b)], seed=42)
    assert r1[0] == r2[0]


def test_mcnemar_exact_known_values():
    a = np.array([1] * 1 + [0] * 9 + [1] * 5, bool)
    b = np.array([0] * 1 + [1] * 9 + [1] * 5, bool)
    p, nb, nc = mcnemar_exact(a, b)
    assert (nb, nc) == (1, 9)
    assert p == pytest.approx(2 * (1 + 10) / 1024)  # 2·P[Binomial(10, ½) ≤ 1]
    assert mcnemar_exact(a, a) == (1.0, 0, 0)
    assert mcnemar_exact(np.array([1, 0], bool), np.array([0, 1], bool))[0] == 1.0
    # a large, lopsided table stays exact and finite
    p, _, _ = mcnemar_exact(np.r_[np.ones(3000, bool), np.zeros(7000, bool)], np.r_[np.zeros(3000, bool), np.ones(7000, bool)])
    assert 0.0 < p < 1e-300 or p == 0.0


def test_input_checks():
    with pytest.raises(ValueError, match="shared"):
        paired_compare([RatioData.mean_of([])], [RatioData.mean_of([])])
    with pytest.raises(ValueError, match="one value per"):
        paired_compare([RatioData.mean_of([1, 2])], [RatioData.mean_of([1])])
