"""The padt-eval predictions file of an import (docs/predictions.md), in split order.

A text toolkit's row gives the line's `text` (read later by `--format`, never here); a
row without an answer gives a line without text, which scores as an unparseable answer.
The PaDT release's rows give the line's `objects` (its decoded boxes, masks and scores).
Every line's `meta.imported_from` names the rows it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

from padt_eval.core.fileio import atomic_write
from padt_eval.imports.matching import Matching
from padt_eval.imports.rows import ImportedFile


def write_predictions(path: Path, imported: ImportedFile, matching: Matching, split_order: list[str]) -> int:
    n = 0
    with atomic_write(path) as f:
        for sid in split_order:
            rows = matching.answer_rows(sid)
            if not rows:
                continue
            line: dict = {"sample_id": sid}
            if imported.grouped_objects:
                line["objects"] = [o.to_json() for r in rows for o in (r.objects or [])]
            elif rows[0].text is not None:
                line["text"] = rows[0].text
            line["meta"] = {"imported_from": [r.where for r in rows], "toolkit": imported.toolkit}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
    return n
