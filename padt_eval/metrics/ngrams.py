"""The n-gram counts BLEU and CIDEr-D both start from, for a whole caption set at once.

pycocoevalcap's BLEU and CIDEr scorers each build, per sentence, a Python dict from n-gram
tuples to counts (`precook`: `s.split()`, then every 1- to 4-gram), and then walk those
dicts image by image. That is most of their time. Here the same counts are built once, as
arrays over the whole set, and shared by `metrics/bleu.py` and `metrics/cider_d.py`:

* each distinct token gets an integer id; an n-gram of order k gets an id from the pair
  (id of its first k-1 tokens, id of its last token), so equal n-grams get equal ids and
  different ones different ids (`np.unique` over the pairs: exact, no hashing);
* per order, one row per distinct (sentence, n-gram) with its count, sorted by sentence
  then n-gram id.

Sentences are numbered candidates first (one an image, image order), then references
(image by image, in their order), so that `image_of[s]` maps any sentence to its image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ORDER = 4  # BLEU-4 and CIDEr-D's n


@dataclass(frozen=True)
class OrderCounts:
    """The (sentence, n-gram) counts of one n-gram order; rows sorted by (sentence, gram)."""

    sentence: np.ndarray  # int64, sentence index of each row
    gram: np.ndarray  # int64, n-gram id (dense per order, 0 .. n_grams-1)
    count: np.ndarray  # int64, occurrences of the n-gram in the sentence
    n_grams: int  # distinct n-grams of this order in the whole set


@dataclass(frozen=True)
class NgramTable:
    n_images: int
    lengths: np.ndarray  # int64 tokens per sentence (`len(s.split())`)
    image_of: np.ndarray  # int64 image index per sentence
    ref_start: np.ndarray  # int64, per image: index of its first reference sentence
    ref_count: np.ndarray  # int64, per image: its number of references
    orders: tuple[OrderCounts, ...]  # orders 1..MAX_ORDER


def ngram_table(gts: dict, res: dict) -> NgramTable:
    """Counts for pycocoevalcap's input shape: `gts[id]` the references (strings, at least
    one), `res[id]` a one-element list with the candidate, the same ids on both sides, in
    `gts`' order (the order pycocoevalcap iterates in)."""
    assert gts.keys() == res.keys()
    ids = list(gts.keys())
    for i in ids:
        assert isinstance(res[i], list) and len(res[i]) == 1, i
        assert isinstance(gts[i], list) and len(gts[i]) >= 1, i
    sentences = [res[i][0] for i in ids]
    ref_count = np.fromiter((len(gts[i]) for i in ids), dtype=np.int64, count=len(ids))
    for i in ids:
        sentences.extend(gts[i])
    return _table(sentences, len(ids), ref_count)


def _table(sentences: list[str], n_images: int, ref_count: np.ndarray) -> NgramTable:
    split = [text.split() for text in sentences]  # pycocoevalcap's `precook` splits so
    lengths = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    words = [w for ws in split for w in ws]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    tokens = np.fromiter(map(vocab.__getitem__, words), dtype=np.int64, count=len(words))
    del split, words
    starts = np.zeros(len(sentences), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    sentence_of_token = np.repeat(np.arange(len(sentences), dtype=np.int64), lengths)
    left = (starts + lengths)[sentence_of_token] - np.arange(len(tokens), dtype=np.int64)  # tokens from here to the end

    image_of = np.concatenate([np.arange(n_images, dtype=np.int64), np.repeat(np.arange(n_images, dtype=np.int64), ref_count)])
    ref_start = np.zeros(n_images, dtype=np.int64)
    if n_images:
        ref_start[0] = n_images
        np.cumsum(ref_count[:-1], out=ref_start[1:])
        ref_start[1:] += n_images

    orders = []
    code = tokens  # id of the k-gram starting at each position (valid where left >= k)
    n_codes = len(vocab)
    for k in range(1, MAX_ORDER + 1):
        if k > 1:
            # the k-gram at p is (the (k-1)-gram at p, token p+k-1); pairs renumbered densely
            valid = left >= k
            pos = np.flatnonzero(valid)
            pair = code[pos] * max(len(vocab), 1) + tokens[pos + k - 1]
            uniq, inverse = np.unique(pair, return_inverse=True)
            code = np.full(len(tokens), -1, dtype=np.int64)
            code[pos] = inverse
            n_codes = len(uniq)
        at = np.flatnonzero(left >= k)
        key = sentence_of_token[at] * max(n_codes, 1) + code[at]
        uniq_key, count = np.unique(key, return_counts=True)
        divisor = max(n_codes, 1)
        orders.append(OrderCounts(uniq_key // divisor, uniq_key % divisor, count.astype(np.int64), n_codes))
    return NgramTable(n_images, lengths, image_of, ref_start, ref_count, tuple(orders))


def distinct(keys: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (by sorting: numpy 2's hash-based
    `np.unique` is several times slower on these arrays)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def lookup(keys_sorted: np.ndarray, values: np.ndarray, queries: np.ndarray, missing: float | int = 0) -> np.ndarray:
    """`values[j]` where `keys_sorted[j] == query`, `missing` where no key equals it."""
    out = np.full(len(queries), missing, dtype=values.dtype)
    if len(keys_sorted) == 0 or len(queries) == 0:
        return out
    j = np.searchsorted(keys_sorted, queries)
    j_clipped = np.minimum(j, len(keys_sorted) - 1)
    found = keys_sorted[j_clipped] == queries
    out[found] = values[j_clipped[found]]
    return out
