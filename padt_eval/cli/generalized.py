"""`padt-eval grec` and `padt-eval gres`: generalized referring on gRefCOCO (0, 1 or many targets).

Their own commands rather than `rec`/`res` on a gRefCOCO split: the answer rule differs
(every box counts, none is an answer, not one box per query), the metrics differ (N-acc,
T-acc, Pr@(F1=1)), and `--protocol official` means gRefCOCO's and ReLA's scorers. A
`rec --split grefcoco_val` that silently changed all three would read worse than a command
that says what it scores. This module holds what differs (help texts and options); `tasks.py`
turns each entry into a command with the task flags every task command shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from padt_eval.core.types import Task

GeneralizedSplitOpt = Annotated[
    str,
    typer.Option(
        "--split",
        "-s",
        help="gRefCOCO split (grefcoco_val, grefcoco_testA, grefcoco_testB) or a path to a grefs(unc).json "
        "with instances.json beside it (every split in it).",
    ),
]
GeneralizedImageRootOpt = Annotated[
    Path | None,
    typer.Option(
        "--image-root", help="COCO train2014 image folder (default: <data-root>/coco/train2014 and other usual places)."
    ),
]
GeneralizedLayoutOpt = Annotated[
    str, typer.Option("--layout", help="Annotation layout: auto or grefcoco (grefs(unc).json + instances.json).")
]
GeneralizedProtocolOpt = Annotated[
    str,
    typer.Option(
        "--protocol",
        help="Scoring rules: 'standard' (IoU and a maximum one-to-one matching for GREC; N-acc/T-acc left out when "
        "undefined) or 'official' (gRefCOCO's refexp.py for GREC: greedy generalized-IoU matching; ReLA's "
        "refer_evaluation.py for GRES, with the initial commit's T-acc beside the fixed one). See docs/benchmarks.md.",
    ),
]

_COMMON = {
    "split": GeneralizedSplitOpt,
    "image_root": GeneralizedImageRootOpt,
    "layout": GeneralizedLayoutOpt,
    "protocol": GeneralizedProtocolOpt,
}

#: (task, help text, the options that differ from the shared task flags)
COMMANDS: list[tuple[Task, str, dict]] = [
    (
        Task.GREC,
        """Generalized REC (gRefCOCO): every box counts, no box is an answer. Pr@(F1=1, IoU>=0.5), N-acc, T-acc.

    Boxes with score >= 0.7 are kept (unscored boxes always); a score sweep is in metrics.json.

    Example: padt-eval grec --split grefcoco_val --predictions preds.jsonl
    Example: padt-eval grec -s grefcoco_val -p preds.jsonl --protocol official
    """,
        _COMMON,
    ),
    (
        Task.GRES,
        """Generalized RES (gRefCOCO): the union of every answered mask; no object is an answer. gIoU, cIoU, Pr@0.7/0.8/0.9, N-acc, T-acc.

    Example: padt-eval gres --split grefcoco_val --predictions preds.jsonl
    Example: padt-eval gres -s grefcoco_val -p preds.jsonl --protocol official
    """,
        _COMMON,
    ),
]
