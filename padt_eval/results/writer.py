"""The results folder of one run: metrics.json, per_sample.jsonl, manifest.json, predictions.

Layout of `results/<run_id>/`:

* `metrics.json`   `{"metrics": {...}, "counts": {...}, "protocol": {...}, ...}`
* `per_sample.jsonl` one record per sample (IoU, hits, status, reason)
* `manifest.json`  versions, git, hashes, command line, times (see `manifest.py`)
* `state.json`     the metric's mergeable state (to combine runs or shards exactly)
* `predictions.jsonl` when a model ran here; otherwise metrics.json points to the
  predictions file that was scored (path and sha256).

Final files are written atomically: per-sample records stream into a temporary file that
is renamed when the run completes, so a folder never holds a half-written result.
Predictions, by contrast, are appended and fsynced batch by batch, so an interrupted run
keeps what it computed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import IO, Any

import orjson

from padt_eval.core.fileio import atomic_write
from padt_eval.core.types import Prediction

METRICS_SCHEMA = "padt-eval/metrics/v1"


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "run"


class RunWriter:
    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._per_sample_tmp = self.out_dir / ".per_sample.jsonl.partial"
        self._per_sample: IO[bytes] = open(self._per_sample_tmp, "wb")
        self._predictions: IO[bytes] | None = None

    @property
    def predictions_path(self) -> Path:
        return self.out_dir / "predictions.jsonl"

    def write_predictions(self, preds: list[Prediction]) -> None:
        """Append a batch of predictions and make it durable before it is scored."""
        if self._predictions is None:
            self._predictions = open(self.predictions_path, "ab")
        for p in preds:
            self._predictions.write(orjson.dumps(p.to_json()) + b"\n")
        self._predictions.flush()
        os.fsync(self._predictions.fileno())

    def write_record(self, record: dict[str, Any]) -> None:
        self._per_sample.write(orjson.dumps(record) + b"\n")

    def finish(self, metrics: dict[str, Any], manifest: dict[str, Any], state: dict[str, Any]) -> None:
        self._per_sample.flush()
        os.fsync(self._per_sample.fileno())
        self._per_sample.close()
        if self._predictions is not None:
            self._predictions.close()
        os.replace(self._per_sample_tmp, self.out_dir / "per_sample.jsonl")
        with atomic_write(self.out_dir / "manifest.json") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
        with atomic_write(self.out_dir / "state.json") as f:
            json.dump(state, f)
            f.write("\n")
        # metrics.json last: its presence means the run is complete.
        with atomic_write(self.out_dir / "metrics.json") as f:
            json.dump({"schema": METRICS_SCHEMA, **metrics}, f, indent=1)
            f.write("\n")

    def abort(self) -> None:
        """Close files after a failure; the partial per-sample file is removed, predictions are kept."""
        for fh in (self._per_sample, self._predictions):
            if fh is not None and not fh.closed:
                fh.close()
        try:
            self._per_sample_tmp.unlink()
        except FileNotFoundError:
            pass
