"""Reading finished results folders: what a table needs to know about each run.

A run folder is complete when it has `metrics.json` (written last). `manifest.json` is
read when present; every protocol field falls back to "unknown" rather than failing, so
a folder written by an older padt-eval still shows up in a table, with its gaps visible
(`results/reader.read_run` reads it into the current, typed layout). A field that is
there but of the wrong shape is a `DataError` naming file and field: the leaderboard
lists such a folder as skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from padt_eval.core.errors import DataError
from padt_eval.results.manifest import Manifest, SplitDescription
from padt_eval.results.reader import iter_per_sample, read_run
from padt_eval.results.record import RunRecord
from padt_eval.results.run_folder import RunFolder

UNKNOWN = "?"

#: What each ground-truth variant means, for table notes.
GT_VARIANTS = {
    "refer": "official refer annotations (full splits)",
    "padt-jsonl": "PaDT's processed JSONL (samples whose mask covers no 28-px patch dropped)",
    "refer+reviewed": "official refer annotations without the expressions Ref-L4's review marks erroneous",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Run:
    """A finished run, as tables see it: its record (metrics.json) and manifest, typed
    (`results/`), with what the tables derive from them."""

    dir: Path
    record: RunRecord
    manifest: Manifest | None = None
    metrics_sha256: str = ""

    # -- identity ---------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.record.run_id or self.dir.name

    @property
    def task(self) -> str:
        return self.record.task or UNKNOWN

    @property
    def split(self) -> str:
        return self.record.split or UNKNOWN

    @property
    def model_desc(self) -> dict[str, Any]:
        return self.record.model.to_json()

    @property
    def model_name(self) -> str:
        return self.record.model.display_name or self.run_id

    @property
    def params(self) -> str:
        m = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)\s*[Bb](?![A-Za-z])", self.model_name.replace("_", " ").replace("-", " "))
        return f"{m.group(1)}B" if m else ""

    @property
    def finished(self) -> str:
        """When the run was scored (manifest.json); "" when not recorded."""
        return str(self.manifest.finished or "") if self.manifest is not None else ""

    # -- numbers ----------------------------------------------------------------------
    @property
    def metrics(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.record.metrics.items() if isinstance(v, (int, float))}

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.record.counts)

    def error_share(self, category: str) -> float | None:
        """A REC/RES miss category's share (metrics.json `errors`); None when not computed."""
        errors = self.record.errors
        shares = errors.get("shares") if isinstance(errors, dict) else None
        v = shares.get(category) if isinstance(shares, dict) else None
        return float(v) if isinstance(v, (int, float)) else None

    # -- protocol ---------------------------------------------------------------------
    @property
    def protocol(self) -> str:
        return self.record.protocol_name

    @property
    def split_hash(self) -> str:
        """sha256 over the sorted content hashes of the split's files (paths left out, so
        the same files give the same hash on any machine); 12 hex digits."""
        files = self._split.files if self._split is not None else {}
        if not files:
            return UNKNOWN
        return _sha("\n".join(sorted(str(v) for v in files.values())).encode())[:12]

    @property
    def gt_variant(self) -> str:
        if self.record.gt is not None:
            return self.record.gt
        layout = self._split.layout if self._split is not None else None
        return str(layout) if layout else UNKNOWN

    @property
    def prompt_hash(self) -> str:
        h = self.manifest.prompt_template_hash if self.manifest is not None else None
        return str(h) if h else "—"  # predictions files carry no prompt

    def pixels(self, key: str) -> str:
        v = self.record.model.find(key)
        return str(v) if v is not None else "—"

    @property
    def scores_provided(self) -> str:
        c = self.counts
        details = self.record.details
        if isinstance(details.get("scores_provided"), bool):
            return "yes" if details["scores_provided"] else "no (constant 1.0)"
        if "n_with_scores" not in c:
            return UNKNOWN
        answered = int(c.get("n_predicted", 0)) - int(c.get("n_no_object", 0))
        n = int(c["n_with_scores"])
        if answered <= 0 or n == 0:
            return "no"
        return "yes" if n == answered else f"partly ({n}/{answered})"

    @property
    def _split(self) -> SplitDescription | None:
        return self.manifest.split if self.manifest is not None else None

    # -- per-sample -------------------------------------------------------------------
    @property
    def has_per_sample(self) -> bool:
        return RunFolder(self.dir).per_sample.is_file()

    def iter_per_sample(self) -> Iterator[dict[str, Any]]:
        """Checked records; a damaged line is a DataError naming `file:line` and field."""
        path = RunFolder(self.dir).per_sample
        if not path.is_file():
            raise DataError(f"{self.dir}: no per_sample.jsonl")
        yield from iter_per_sample(path)

    @cached_property
    def per_sample(self) -> list[dict[str, Any]]:
        return list(self.iter_per_sample())


def load_run(path: str | Path) -> Run:
    d = Path(path)
    record, manifest, sha = read_run(d)
    return Run(dir=d, record=record, manifest=manifest, metrics_sha256=sha)


def find_runs(root: str | Path, skipped: list[str] | None = None) -> list[Run]:
    """Every finished run under `root` (any depth), in path order; hidden folders skipped.
    A folder whose metrics.json cannot be read is left out, and `skipped` (when given)
    gets one line saying which and why."""
    root = Path(root)
    out = []
    for p in sorted(root.rglob(RunFolder.METRICS)):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel):
            continue
        try:
            out.append(load_run(p.parent))
        except (DataError, OSError, UnicodeDecodeError) as exc:
            if skipped is not None:
                skipped.append(str(exc) if isinstance(exc, DataError) else f"{p}: unreadable ({exc})")
    return out
