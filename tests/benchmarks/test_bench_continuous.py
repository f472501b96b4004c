"""benchmarks/bench_continuous.py: its row-step counts follow the two loops' rules (checked
by hand on a small case), and a tiny run gives the same tokens on both sides, with the
measured counts equal to the simulated ones. No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_continuous as bench  # noqa: E402


def test_static_row_steps_by_hand():
    # batches [3, 10] and [2, 2], checks every 8 steps: the first batch stops at the check
    # t = 16 (15 steps of 2 rows), the second at t = 8 (7 steps of 2 rows);
    # useful: each answer's tokens - 1 = 2 + 9 + 1 + 1
    assert bench.simulate_static([3, 10, 2, 2], 2, cap=64, check=8) == (13, 30 + 14)
    # an answer at the cap runs every step: 63 steps
    assert bench.simulate_static([64], 1, cap=64, check=8) == (63, 63)


def test_continuous_row_steps_by_hand():
    # slots 2: [3, 10] run 8 steps (16 row-steps); slot 0 (done) takes the third answer,
    # 8 more steps end both (32); slot 0 takes the fourth, 8 steps (48) end it
    assert bench.simulate_continuous([3, 10, 2, 2], 2, check=8) == (13, 48)


def test_ovd_lengths_are_long_tailed():
    lengths = bench.ovd_lengths(4000, 1024, np.random.default_rng(0))
    mean, med, p95 = np.mean(lengths), np.median(lengths), np.percentile(lengths, 95)
    assert min(lengths) >= 6 + 5 + 8 and max(lengths) <= 1024
    assert mean > med and p95 > 2 * med  # a tail well past the median


@pytest.mark.slow
def test_tiny_run_same_tokens_and_counts_as_simulated():
    out = bench.main(["--samples", "6", "--slots", "2", "--max-new-tokens", "16", "--pairs", "1", "--json"])
    assert out["same_tokens"] and out["simulated_match"]
    assert 0 < out["static_useful_fraction"] <= 1 and 0 < out["continuous_useful_fraction"] <= 1
    assert len(out["continuous_over_static_min_max"]) == 2
