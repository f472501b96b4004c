"""A compact map from sample_id to a byte offset, for streaming large JSONL files.

Sample ids of every standard split are decimal integers (a line index, a `sent_id`, a COCO
image id), so while every id added is a canonical decimal the index keeps two int64
arrays (16 bytes a sample) instead of a dict of strings (~150 bytes a sample). The first
non-numeric id switches it to a plain dict.

Build it with `add`, then call `finalize()` once: it sorts the arrays for lookups and
returns the duplicated ids with every offset they were seen at. The first occurrence of
an id is the one `get` returns and `items` yields.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator

import numpy as np

_MAX_NUMERIC = 2**62


def _as_number(sample_id: str) -> int | None:
    if sample_id.isascii() and sample_id.isdigit() and (sample_id == "0" or sample_id[0] != "0"):
        value = int(sample_id)
        if value < _MAX_NUMERIC:
            return value
    return None


class IdIndex:
    def __init__(self) -> None:
        self._ids = array("q")
        self._offsets = array("q")
        self._dict: dict[str, int] | None = None  # set once an id is not numeric
        self._order: list[str] = []
        self._dict_dups: dict[str, list[int]] = {}
        self._keys: array | None = None
        self._key_offsets: array | None = None
        self._first: np.ndarray | None = None  # insertion positions that are first occurrences
        self._finalized = False

    def add(self, sample_id: str, offset: int) -> None:
        if self._finalized:
            raise RuntimeError("IdIndex.add after finalize()")
        if self._dict is None:
            number = _as_number(sample_id)
            if number is not None:
                self._ids.append(number)
                self._offsets.append(offset)
                return
            self._switch_to_dict()
        assert self._dict is not None
        if sample_id in self._dict:
            self._dict_dups.setdefault(sample_id, [self._dict[sample_id]]).append(offset)
            return
        self._dict[sample_id] = offset
        self._order.append(sample_id)

    def _switch_to_dict(self) -> None:
        self._dict = {}
        for i, off in zip(self._ids, self._offsets):
            sid = str(i)
            if sid in self._dict:
                self._dict_dups.setdefault(sid, [self._dict[sid]]).append(off)
            else:
                self._dict[sid] = off
                self._order.append(sid)
        self._ids = array("q")
        self._offsets = array("q")

    def finalize(self) -> list[tuple[str, list[int]]]:
        """Prepare lookups; return [(duplicated id, [offset of each occurrence, first first])]."""
        self._finalized = True
        if self._dict is not None:
            return [(sid, offs) for sid, offs in self._dict_dups.items()]
        ids = np.frombuffer(self._ids, dtype=np.int64) if len(self._ids) else np.zeros(0, np.int64)
        offs = np.frombuffer(self._offsets, dtype=np.int64) if len(self._offsets) else np.zeros(0, np.int64)
        perm = np.argsort(ids, kind="stable")
        keys = ids[perm]
        is_first_sorted = np.ones(len(keys), dtype=bool)
        is_first_sorted[1:] = keys[1:] != keys[:-1]
        self._first = np.zeros(len(keys), dtype=bool)
        self._first[perm[is_first_sorted]] = True
        # Plain arrays + bisect: a scalar lookup through numpy costs microseconds of call overhead.
        self._keys = array("q", keys[is_first_sorted].tobytes())
        self._key_offsets = array("q", offs[perm][is_first_sorted].tobytes())
        dups: list[tuple[str, list[int]]] = []
        if not is_first_sorted.all():
            sorted_offs = offs[perm]
            starts = np.flatnonzero(is_first_sorted)
            ends = np.append(starts[1:], len(keys))
            for s, e in zip(starts, ends):
                if e - s > 1:
                    dups.append((str(int(keys[s])), [int(o) for o in sorted_offs[s:e]]))
        return dups

    def __len__(self) -> int:
        """Number of distinct ids."""
        if self._dict is not None:
            return len(self._dict)
        if self._keys is not None:
            return len(self._keys)
        return len(np.unique(np.frombuffer(self._ids, dtype=np.int64))) if len(self._ids) else 0

    def get(self, sample_id: str) -> int | None:
        if self._dict is not None:
            return self._dict.get(sample_id)
        if not self._finalized:
            raise RuntimeError("IdIndex.get before finalize()")
        number = _as_number(sample_id)
        if number is None or self._keys is None or not len(self._keys):
            return None
        pos = bisect_left(self._keys, number)
        if pos < len(self._keys) and self._keys[pos] == number:
            return self._key_offsets[pos]  # type: ignore[index]
        return None

    def __contains__(self, sample_id: str) -> bool:
        return self.get(sample_id) is not None

    def items(self) -> Iterator[tuple[str, int]]:
        """Distinct ids in insertion order with the offset of their first occurrence."""
        if self._dict is not None:
            for sid in self._order:
                yield sid, self._dict[sid]
            return
        first = self._first
        for pos, (i, off) in enumerate(zip(self._ids, self._offsets)):
            if first is None or first[pos]:
                yield str(i), off

    def ids(self) -> Iterator[str]:
        for sid, _ in self.items():
            yield sid
