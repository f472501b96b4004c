"""BLEU-1..4 as pycocoevalcap's `Bleu(4).compute_score` computes it, on array counts.

pycocoevalcap (David Chiang's bleu_scorer, reflen option "closest"), per image: the
candidate's n-gram counts clipped by the largest count of that n-gram in any one
reference ("correct"), the number of candidate n-grams ("guess"), the candidate length,
and the length of the reference closest to it (ties: the shorter). The corpus score sums
these integers over the images and applies the same formula as pycocoevalcap, with the
same `tiny`/`small` constants. The integer totals are exact here too, so the corpus
scores are equal to pycocoevalcap's bit for bit; the per-image scores follow the same
float operations elementwise (tests compare both).
"""

from __future__ import annotations

import math

import numpy as np

from padt_eval.metrics.ngrams import MAX_ORDER, NgramTable, lookup, ngram_table

_SMALL, _TINY = 1e-9, 1e-15  # pycocoevalcap's constants


def bleu(gts: dict, res: dict, table: NgramTable | None = None) -> tuple[list[float], list[np.ndarray]]:
    """`Bleu(4).compute_score(gts, res, verbose=0)`: the four corpus scores and, per order,
    the per-image scores. `table`: the set's `ngram_table(gts, res)`, when already built."""
    table = table or ngram_table(gts, res)
    n = table.n_images
    test_len = table.lengths[:n]
    ref_len = _closest_ref_len(table, test_len)
    guess = np.stack([np.maximum(0, test_len - k + 1) for k in range(1, MAX_ORDER + 1)])
    correct = np.stack([_clipped_matches(table, k) for k in range(MAX_ORDER)])

    total_test, total_ref = int(test_len.sum()), int(ref_len.sum())
    corpus: list[float] = []
    b = 1.0
    for k in range(MAX_ORDER):
        b *= float(int(correct[k].sum()) + _TINY) / (int(guess[k].sum()) + _SMALL)
        corpus.append(b ** (1.0 / (k + 1)))
    ratio = (total_test + _TINY) / (total_ref + _SMALL)
    if ratio < 1:
        corpus = [v * math.exp(1 - 1 / ratio) for v in corpus]

    per_image: list[np.ndarray] = []
    b_img = np.ones(n)
    for k in range(MAX_ORDER):
        b_img = b_img * ((correct[k].astype(np.float64) + _TINY) / (guess[k].astype(np.float64) + _SMALL))
        per_image.append(b_img ** (1.0 / (k + 1)))
    ratio_img = (test_len + _TINY) / (ref_len + _SMALL)
    short = ratio_img < 1
    if short.any():
        penalty = np.exp(1 - 1 / ratio_img[short])
        for scores in per_image:
            scores[short] *= penalty
    return corpus, per_image


def _closest_ref_len(table: NgramTable, test_len: np.ndarray) -> np.ndarray:
    """Per image, `min((abs(l - testlen), l) for l in reflens)[1]`."""
    n = table.n_images
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    lens = table.lengths[n:]
    image = table.image_of[n:]
    scale = int(lens.max(initial=0)) + 1
    key = np.abs(lens - test_len[image]) * scale + lens  # orders as the (distance, length) tuple
    return np.minimum.reduceat(key, table.ref_start - n) % scale


def _clipped_matches(table: NgramTable, k: int) -> np.ndarray:
    """Per image, the sum over the candidate's n-grams of order k+1 of
    min(count in the candidate, max count in one reference)."""
    n = table.n_images
    order = table.orders[k]
    is_ref = order.sentence >= n
    width = max(order.n_grams, 1)
    ref_key = table.image_of[order.sentence[is_ref]] * width + order.gram[is_ref]
    ref_counts = order.count[is_ref]
    sort = np.argsort(ref_key, kind="stable")
    ref_key, ref_counts = ref_key[sort], ref_counts[sort]
    if len(ref_key):
        first = np.flatnonzero(np.r_[True, ref_key[1:] != ref_key[:-1]])
        max_key, max_count = ref_key[first], np.maximum.reduceat(ref_counts, first)
    else:
        max_key, max_count = ref_key, ref_counts
    cand = ~is_ref
    cand_image = order.sentence[cand]  # candidate sentence s is image s
    clipped = np.minimum(order.count[cand], lookup(max_key, max_count, cand_image * width + order.gram[cand]))
    return np.bincount(cand_image, weights=clipped, minlength=n).astype(np.int64)
