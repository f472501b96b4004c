"""The results folder of one run: metrics.json, per_sample.jsonl, manifest.json, predictions.

Layout of `results/<run_id>/`:

* `metrics.json`   `{"metrics": {...}, "counts": {...}, "protocol": {...}, ...}`
* `per_sample.jsonl` one record per sample (IoU, hits, status, reason)
* `manifest.json`  versions, git, hashes, command line, times (see `manifest.py`)
* `.padt-eval-run`  the signature of a folder padt-eval created (`ownership.py`): results
  go only into such a folder (or a new or empty one), and only such a folder is emptied
* `predictions.jsonl` when a model ran here (the runner merges its shards into it);
  otherwise metrics.json points to the predictions file that was scored (path and sha256).

Final files are written atomically: per-sample records stream into a temporary file that
is renamed when the run completes, so a folder never holds a half-written result.
per_sample.jsonl and the predictions are the source of truth: no metric state is kept
beside them (scoring them again gives the same numbers).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import IO, Any

import orjson

from padt_eval.core.fileio import atomic_write

METRICS_SCHEMA = "padt-eval/metrics/v1"


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "run"


class RunWriter:
    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._per_sample_tmp = self.out_dir / ".per_sample.jsonl.partial"
        self._per_sample: IO[bytes] = open(self._per_sample_tmp, "wb")

    def write_record(self, record: dict[str, Any]) -> None:
        self._per_sample.write(orjson.dumps(record) + b"\n")

    def finish(self, metrics: dict[str, Any], manifest: dict[str, Any]) -> None:
        self._per_sample.flush()
        os.fsync(self._per_sample.fileno())
        self._per_sample.close()
        os.replace(self._per_sample_tmp, self.out_dir / "per_sample.jsonl")
        with atomic_write(self.out_dir / "manifest.json") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        # metrics.json last: its presence means the run is complete.
        with atomic_write(self.out_dir / "metrics.json") as f:
            json.dump({"schema": METRICS_SCHEMA, **metrics}, f, indent=1)
            f.write("\n")

    def abort(self) -> None:
        """Close files after a failure; the partial per-sample file is removed."""
        if not self._per_sample.closed:
            self._per_sample.close()
        try:
            self._per_sample_tmp.unlink()
        except FileNotFoundError:
            pass
