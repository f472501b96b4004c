"""The results folder of one run: metrics.json, per_sample.jsonl, manifest.json, predictions.

Layout of `results/<run_id>/`:

* `metrics.json`   the run's `RunRecord` (`record.py`): metrics, counts, protocol, ...
* `per_sample.jsonl` one record per sample (IoU, hits, status, reason)
* `manifest.json`  the run's `Manifest` (`manifest.py`): versions, git, hashes, command
  line, times
* `.padt-eval-run`  the signature of a folder padt-eval created (`ownership.py`): results
  go only into such a folder (or a new or empty one), and only such a folder is emptied
* `predictions.jsonl` when a model ran here (the runner merges its shards into it);
  otherwise metrics.json points to the predictions file that was scored (path and sha256).

Final files are written atomically: per-sample records stream into a temporary file, the
manifest and metrics are written to temporary files beside it, and only when all three
are on disk are they renamed into place (metrics.json last). A write that fails (a full
disk) leaves the folder as it was before, with no temporary file, and the error names
the file being written.
per_sample.jsonl and the predictions are the source of truth: no metric state is kept
beside them (scoring them again gives the same numbers).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from padt_eval.core.fileio import close_quietly, finish_staged, naming, staged_write, unlink_quietly
from padt_eval.results.manifest import Manifest
from padt_eval.results.record import RunRecord
from padt_eval.results.run_folder import RunFolder


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "run"


class RunWriter:
    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.folder = RunFolder(self.out_dir)
        self._per_sample_tmp = self.folder.per_sample_partial
        with naming(self.folder.per_sample):
            self._per_sample: IO[bytes] = open(self._per_sample_tmp, "wb")

    def write_record(self, record: dict[str, Any]) -> None:
        with naming(self.folder.per_sample):
            self._per_sample.write(orjson.dumps(record) + b"\n")

    def write_records(self, records: Iterable[dict[str, Any]]) -> None:
        """`write_record` of each, serialised a block at a time."""
        block: list[bytes] = []
        with naming(self.folder.per_sample):
            for record in records:
                block.append(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
                if len(block) == 1024:
                    self._per_sample.write(b"".join(block))
                    block.clear()
            self._per_sample.write(b"".join(block))

    def finish(self, record: RunRecord, manifest: Manifest) -> None:
        with naming(self.folder.per_sample):
            finish_staged(self._per_sample, self._per_sample_tmp)
        staged = []
        try:
            for path, doc in ((self.folder.manifest, manifest.to_json()), (self.folder.metrics, record.to_json())):
                with naming(path), staged_write(path) as (f, tmp):
                    json.dump(doc, f, indent=1)
                    f.write("\n")
                    finish_staged(f, tmp)
                staged.append((tmp, path))
        except BaseException:
            for tmp, _ in staged:
                unlink_quietly(tmp)
            raise
        # Everything is on disk: renames only from here. metrics.json last: its presence
        # means the run is complete.
        os.replace(self._per_sample_tmp, self.folder.per_sample)
        for tmp, path in staged:
            os.replace(tmp, path)

    def abort(self) -> None:
        """After a failure: close and remove the temporary per-sample file (even when
        closing fails again on a full disk)."""
        close_quietly(self._per_sample)
        unlink_quietly(self._per_sample_tmp)
