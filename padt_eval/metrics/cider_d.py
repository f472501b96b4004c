"""CIDEr-D as pycocoevalcap's `Cider().compute_score` computes it, on array counts.

pycocoevalcap's CiderScorer (n = 4, sigma = 6), restated:

* document frequency df(g): the number of images whose references contain the n-gram g;
  the IDF-weighted count of g in a sentence is tf * (log(#images) - log(max(1, df(g))));
* per sentence and order, the norm of those weights; the sentence's "length" is its
  number of bigrams (pycocoevalcap counts the term frequencies of order index 1);
* per (candidate, reference) and order: sum over shared n-grams of
  min(w_cand, w_ref) * w_ref, divided by both norms when neither is 0, times
  exp(-(length difference)^2 / (2 sigma^2));
* per image: the mean over the orders of the sum over references, / #references, x 10;
  the score is the mean over images.

Each step is one array operation over all sentences instead of a dict walk per sentence;
only the order in which floats are summed differs from pycocoevalcap, so the scores agree
to about 1e-15 (tests hold them to 1e-12 of pycocoevalcap's own).
"""

from __future__ import annotations

import numpy as np

from padt_eval.metrics.ngrams import MAX_ORDER, NgramTable, OrderCounts, distinct, lookup, ngram_table

SIGMA = 6.0  # pycocoevalcap's CiderScorer sigma


def cider_d(gts: dict, res: dict, table: NgramTable | None = None) -> tuple[float, np.ndarray]:
    """`Cider().compute_score(gts, res)`: the mean score and the per-image scores.
    `table`: the set's `ngram_table(gts, res)`, when already built."""
    table = table or ngram_table(gts, res)
    n = table.n_images
    if n == 0:
        return float("nan"), np.zeros(0)  # np.mean of no images, as pycocoevalcap would give
    n_sentences = len(table.lengths)
    log_images = np.log(float(n))
    bigrams = np.maximum(table.lengths - 1, 0)  # pycocoevalcap's "length"
    ref_image = table.image_of[n:]
    penalty = np.e ** (-((bigrams[:n][ref_image] - bigrams[n:]).astype(np.float64) ** 2) / (2 * SIGMA**2))

    score = np.zeros(n)  # per image, summed over orders and references
    for order in table.orders[:MAX_ORDER]:
        weight = order.count * (log_images - np.log(np.maximum(1.0, _document_frequency(table, order)[order.gram])))
        norm = np.sqrt(_sum_by(order.sentence, weight * weight, n_sentences))

        # candidate weights looked up by (image, gram) for every reference row
        is_ref = order.sentence >= n
        width = max(order.n_grams, 1)
        cand_key = order.sentence[~is_ref] * width + order.gram[~is_ref]  # sorted: rows are by (sentence, gram)
        ref_rows = np.flatnonzero(is_ref)
        w_ref = weight[ref_rows]
        w_cand = lookup(cand_key, weight[~is_ref], table.image_of[order.sentence[ref_rows]] * width + order.gram[ref_rows])
        overlap = _sum_by(order.sentence[ref_rows] - n, np.minimum(w_cand, w_ref) * w_ref, n_sentences - n)

        norm_cand, norm_ref = norm[:n][ref_image], norm[n:]
        divide = (norm_cand != 0) & (norm_ref != 0)
        val = overlap.copy()
        val[divide] /= norm_cand[divide] * norm_ref[divide]
        val *= penalty
        score += _sum_by(ref_image, val, n)
    per_image = score / MAX_ORDER / table.ref_count * 10.0
    return float(np.mean(per_image)), per_image


def _sum_by(index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per index 0..n-1, the sum of its weights (float64, also when there are none)."""
    return np.bincount(index, weights=weights, minlength=n).astype(np.float64, copy=False)


def _document_frequency(table: NgramTable, order: OrderCounts) -> np.ndarray:
    """Per n-gram id: the number of images with it in at least one reference."""
    is_ref = order.sentence >= table.n_images
    width = max(order.n_grams, 1)
    image_gram = distinct(table.image_of[order.sentence[is_ref]] * width + order.gram[is_ref])
    return np.bincount(image_gram % width, minlength=order.n_grams).astype(np.float64)
