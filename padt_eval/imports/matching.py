"""Which sample of the split each imported row answers; nothing is guessed.

A row is matched by the first key it carries that the split can answer, in this order:
the split's own id (`sent_id`), the COCO annotation id with the expression, the image id
with the expression (expressions compared by `rows.normalised_expression`, against the
sample's expression and its raw sentence). Then:

* no sample has the key: the row is listed `unmatched`;
* several samples have it: when the rows with that key are as many as those samples and
  the samples ask the same question with the same ground-truth box (a sentence written
  twice for one object), any pairing scores the same and the rows are paired in file
  order (`interchangeable`); otherwise every such row is listed `ambiguous`, with the
  candidate ids;
* several rows land on one sample: the objects of one answer for a toolkit that writes
  one line per object (the PaDT release); generations of the sample where the toolkit
  numbers them (evalscope repeats); the same answer written twice (kept once); otherwise
  the rows are listed `conflicting` and the sample gets no answer (it scores as missing).

Rows of another split of an aggregate file (VLMEvalKit's `split` column) are counted, not
listed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.core.types import Sample
from padt_eval.imports.rows import ImportedFile, ImportedRow, normalised_expression

LISTED = 50  # rows listed by name in import.json per kind of problem; the counts are whole


@dataclass
class Problem:
    where: str
    keys: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"row": self.where, "keys": self.keys, "reason": self.reason}


@dataclass
class Matching:
    rows_by_sample: dict[str, list[ImportedRow]] = field(default_factory=dict)
    matched_by: Counter = field(default_factory=Counter)
    unmatched: list[Problem] = field(default_factory=list)
    ambiguous: list[Problem] = field(default_factory=list)
    conflicting: list[Problem] = field(default_factory=list)
    other_split: Counter = field(default_factory=Counter)
    interchangeable: int = 0
    repeated_identical: int = 0
    n_rows: int = 0

    def answer_rows(self, sample_id: str) -> list[ImportedRow]:
        """The rows padt-eval scores for a sample: all objects of one answer, or the first
        generation of repeats."""
        rows = self.rows_by_sample.get(sample_id, [])
        generations = [r for r in rows if r.generation is not None]
        if generations and len(generations) == len(rows):
            first = min(r.generation for r in rows)  # type: ignore[type-var]
            return [r for r in rows if r.generation == first]
        return rows

    def summary(self, n_samples: int) -> dict[str, Any]:
        rows_matched = sum(len(v) for v in self.rows_by_sample.values())
        return {
            "rows": self.n_rows,
            "rows_matched": rows_matched,
            "samples_matched": len(self.rows_by_sample),
            "samples_without_row": n_samples - len(self.rows_by_sample),
            "matched_by": dict(self.matched_by),
            "interchangeable_rows": self.interchangeable,
            "repeated_identical_rows": self.repeated_identical,
            "rows_of_other_splits": dict(self.other_split),
            "unmatched": {"count": len(self.unmatched), "rows": [p.to_json() for p in self.unmatched[:LISTED]]},
            "ambiguous": {"count": len(self.ambiguous), "rows": [p.to_json() for p in self.ambiguous[:LISTED]]},
            "conflicting": {"count": len(self.conflicting), "rows": [p.to_json() for p in self.conflicting[:LISTED]]},
        }


def _split_label(text: str) -> str:
    return text.strip().lower().replace(" ", "_")


class _SplitIndex:
    def __init__(self, samples: list[Sample]) -> None:
        self.samples = {s.sample_id: s for s in samples}
        self.by_ann: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.by_image: dict[tuple[str, str], list[str]] = defaultdict(list)
        for s in samples:
            expressions = {normalised_expression(s.expression), normalised_expression(s.meta.get("raw"))} - {None}
            for e in expressions:
                if s.meta.get("ann_id") is not None:
                    self.by_ann[(str(s.meta["ann_id"]), e)].append(s.sample_id)  # type: ignore[index]
                if s.meta.get("image_id") is not None:
                    self.by_image[(str(s.meta["image_id"]), e)].append(s.sample_id)  # type: ignore[index]

    def candidates(self, row: ImportedRow) -> tuple[str, tuple, list[str]] | None:
        k = row.keys
        if k.sample_id is not None:
            return ("sample_id", (k.sample_id,), [k.sample_id] if k.sample_id in self.samples else [])
        found: tuple[str, tuple, list[str]] | None = None
        if k.expression is not None:
            for kind, key, index in (
                ("ann_id+expression", (k.ann_id, k.expression), self.by_ann),
                ("image_id+expression", (k.image_id, k.expression), self.by_image),
            ):
                if key[0] is None:
                    continue
                ids = index.get(key, [])
                if ids:
                    return kind, key, ids
                if not index:  # say so: a PaDT JSONL split has image ids but no annotation ids
                    kind += " (the split carries no such ids: try its refer layout, --layout refer)"
                found = found or (kind, key, [])
        return found

    def same_question(self, ids: list[str]) -> bool:
        first = self.samples[ids[0]]
        return all(
            self.samples[i].objects[0].bbox == first.objects[0].bbox
            and normalised_expression(self.samples[i].expression) == normalised_expression(first.expression)
            for i in ids[1:]
        )


def _rows_of_split(imported: ImportedFile, split: str, toolkit_split: str | None, m: Matching) -> list[ImportedRow]:
    labelled = [r for r in imported.rows if r.split is not None]
    if not labelled:
        return imported.rows
    wanted = _split_label(toolkit_split or split)
    kept = []
    for r in imported.rows:
        if r.split is not None and _split_label(r.split) != wanted:
            m.other_split[r.split] += 1
        else:
            kept.append(r)
    if not kept:
        labels = ", ".join(sorted(m.other_split))
        raise UsageError(
            f"no row of {', '.join(imported.paths)} belongs to split {toolkit_split or split!r} (its split column holds: "
            f"{labels}); name the toolkit's split with --toolkit-split"
        )
    return kept


def match_rows(imported: ImportedFile, samples: list[Sample], split: str, toolkit_split: str | None = None) -> Matching:
    m = Matching(n_rows=len(imported.rows))
    index = _SplitIndex(samples)
    groups: dict[tuple[str, tuple], list[ImportedRow]] = defaultdict(list)
    group_ids: dict[tuple[str, tuple], list[str]] = {}
    assigned: dict[str, list[ImportedRow]] = defaultdict(list)
    for row in _rows_of_split(imported, split, toolkit_split, m):
        found = index.candidates(row)
        if found is None:
            m.unmatched.append(
                Problem(
                    row.where, row.keys.describe(), "the row names no sample id, and no image or annotation id with an expression"
                )
            )
            continue
        kind, key, ids = found
        if not ids:
            m.unmatched.append(Problem(row.where, row.keys.describe(), f"no sample of {split} has this {kind}"))
        elif len(ids) == 1:
            assigned[ids[0]].append(row)
            m.matched_by[kind] += 1
        else:
            groups[(kind, key)].append(row)
            group_ids[(kind, key)] = ids
    for (kind, _key), rows in groups.items():
        ids = group_ids[(kind, _key)]
        if not imported.grouped_objects and len(rows) == len(ids) and index.same_question(ids):
            for row, sid in zip(rows, ids):
                assigned[sid].append(row)
            m.matched_by[kind] += len(rows)
            m.interchangeable += len(rows)
            continue
        for row in rows:
            m.ambiguous.append(
                Problem(row.where, row.keys.describe(), f"{len(ids)} samples have this {kind}: {', '.join(ids[:10])}")
            )
    for sid in (s.sample_id for s in samples):  # split order
        rows = assigned.get(sid)
        if not rows:
            continue
        if imported.grouped_objects or len(rows) == 1:
            m.rows_by_sample[sid] = rows
        elif all(r.generation is not None for r in rows) and len({r.generation for r in rows}) == len(rows):
            m.rows_by_sample[sid] = rows
        elif len({r.text for r in rows}) == 1:
            m.rows_by_sample[sid] = rows[:1]
            m.repeated_identical += len(rows) - 1
        else:
            for row in rows:
                m.conflicting.append(
                    Problem(row.where, row.keys.describe(), f"{len(rows)} rows with different answers for sample {sid}")
                )
    return m
