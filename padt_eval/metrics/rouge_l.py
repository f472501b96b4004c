"""ROUGE-L as pycocoevalcap computes it, with the longest common subsequence found by a
bit-parallel algorithm instead of pycocoevalcap's Python dynamic-programming table.

pycocoevalcap's `Rouge` (the COCO caption ROUGE-L, beta 1.2) spends nearly all its time
in `my_lcs`, a |ref| × |candidate| table filled cell by cell in Python. The LCS length is
an integer, so any exact algorithm gives the same one; here it is the bit-vector
recurrence of Allison and Dix (1986, in Hyyrö's formulation): one big-integer addition
per token of the candidate. Everything around it (whitespace tokens, precision and recall
per reference, their maxima, the F-measure, the mean over images) is pycocoevalcap's,
operation for operation, so the scores are equal bit for bit (tests compare them).
"""

from __future__ import annotations

import numpy as np

BETA = 1.2  # pycocoevalcap's Rouge().beta


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    where: dict[str, int] = {}
    for i, token in enumerate(a):  # the positions of each token of `a`, as bits
        where[token] = where.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & where.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def _image_score(candidate: list[str], refs: list[str]) -> float:
    assert len(candidate) == 1 and len(refs) > 0
    token_c = candidate[0].split(" ")
    prec, rec = [], []
    for reference in refs:
        token_r = reference.split(" ")
        lcs = lcs_length(token_r, token_c)
        prec.append(lcs / float(len(token_c)))
        rec.append(lcs / float(len(token_r)))
    prec_max, rec_max = max(prec), max(rec)
    if prec_max != 0 and rec_max != 0:
        return ((1 + BETA**2) * prec_max * rec_max) / float(rec_max + BETA**2 * prec_max)
    return 0.0


def rouge_l(gts: dict, res: dict) -> tuple[float, np.ndarray]:
    """`Rouge().compute_score(gts, res)`: the mean ROUGE-L and the per-image scores."""
    assert gts.keys() == res.keys()
    score = [_image_score(res[i], gts[i]) for i in gts]
    return np.mean(np.array(score)), np.array(score)
