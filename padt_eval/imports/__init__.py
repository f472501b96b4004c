"""Importing another toolkit's prediction file: read its rows, match them to the split,
write a padt-eval predictions file, and say where the toolkit's verdicts differ.

One module per toolkit reads its own layout into `rows.ImportedRow`s (`lmms_eval`,
`vlmevalkit`, `evalscope`, `padt_release`); `matching` pairs rows with samples (never
guessing); `predictions` writes the padt-eval file that `api.score` reads (raw text for a
`--format`, or the objects a decoder wrote); `agreement` compares the toolkit's own
per-sample verdicts with padt-eval's. The layouts and their sources: docs/importing.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from padt_eval.core.errors import UsageError, did_you_mean
from padt_eval.imports import evalscope, lmms_eval, padt_release, vlmevalkit
from padt_eval.imports.rows import ImportedFile

READERS: dict[str, Callable[[list[Path]], ImportedFile]] = {
    lmms_eval.NAME: lmms_eval.read,
    vlmevalkit.NAME: vlmevalkit.read,
    evalscope.NAME: evalscope.read,
    padt_release.NAME: padt_release.read,
}
#: toolkits whose file holds decoded objects, not text: no --format
STRUCTURED = {padt_release.NAME}


def read_toolkit_file(toolkit: str, paths: list[Path]) -> ImportedFile:
    if toolkit not in READERS:
        raise UsageError(f"unknown toolkit {toolkit!r}{did_you_mean(toolkit, READERS)}; one of: {', '.join(READERS)}")
    if not paths:
        raise UsageError("give the toolkit's prediction file(s)")
    return READERS[toolkit]([Path(p) for p in paths])
