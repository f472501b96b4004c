"""metrics.json as a type: `RunRecord`, with the `ModelDescription` and `PredictionsRef` it holds.

Scoring builds a `RunRecord` and `RunWriter` writes it; `report/` reads it back through
`results/reader.read_run`, never through dict look-ups of its own. `to_json` writes the
keys in the order padt-eval has always written them, and `from_json(to_json(r)) == r`.
`from_json` takes a document `reader.py` has already checked (and, for a folder of an
earlier padt-eval, `older.py` has brought to the current layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRICS_SCHEMA = "padt-eval/metrics/v1"

#: Where a model description names the model, in the order a table looks for it.
_NAME_KEYS = ("name", "model", "model_id")


@dataclass(frozen=True)
class ModelDescription:
    """What produced the predictions: the model padt-eval ran, as its adapter describes
    itself (family, id, revision, weights, dtype, prompt key, processor and generation
    settings ...), or a predictions file it was given (family None, `predictions_file`,
    and how `--format` read its text).

    Each adapter owns its own keys, so the description is kept whole and in its own order
    (`entries`); the keys padt-eval itself reads are the properties below. A run holds one
    description: metrics.json and manifest.json both carry it, for readers of either file."""

    entries: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str | None:
        v = self.entries.get("family")
        return v if isinstance(v, str) else None

    @property
    def prompt_key(self) -> str | None:
        v = self.entries.get("prompt_key")
        return v if isinstance(v, str) and v else None

    @property
    def display_name(self) -> str | None:
        """The name a table shows: `--name`, else the model's own name or id, else the
        stem of the predictions file; None when the description names nothing."""
        for key in _NAME_KEYS:
            v = self.entries.get(key)
            if isinstance(v, str) and v:
                return v
        path = self.entries.get("predictions_file")
        return Path(path).stem if isinstance(path, str) else None

    def find(self, key: str, depth: int = 4) -> Any:
        """The first non-null value under `key` anywhere in the description (adapters nest
        settings, e.g. `processor.max_pixels`); None when there is none."""
        return _find(self.entries, key, depth)

    def with_entries(self, **entries: Any) -> ModelDescription:
        """A copy with `entries` set (an existing key keeps its place)."""
        return ModelDescription({**self.entries, **entries})

    def to_json(self) -> dict[str, Any]:
        return dict(self.entries)

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> ModelDescription:
        return cls(dict(doc or {}))


def _find(d: Any, key: str, depth: int) -> Any:
    if not isinstance(d, dict) or depth < 0:
        return None
    if d.get(key) is not None:
        return d[key]
    for v in d.values():
        found = _find(v, key, depth - 1)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class PredictionsRef:
    """The predictions file that was scored, and its sha256 when it was scored (a report
    uses the file only while it is unchanged)."""

    file: str | None
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256}

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> PredictionsRef | None:
        if doc is None:
            return None
        file, sha = doc.get("file"), doc.get("sha256")
        return cls(file if isinstance(file, str) else None, sha if isinstance(sha, str) else None)


@dataclass(frozen=True)
class RunRecord:
    """metrics.json: the numbers of one scored run and what they were computed under.

    `metrics` is the headline metric values (null where one could not be computed),
    `counts` the sample counts (answered, missing, unreadable ...), `protocol` the
    scoring rules in words (its `name` is the protocol), `details` and `notes` what the
    metric adds, `errors` why the misses happened (REC/RES/OVD error breakdown),
    `problems` what was wrong with lines of the predictions file, `warnings` what a
    reader must not miss, `alarms` the results that cannot be right ({name, message,
    evidence}: `metrics/alarms.py`; each message is also in `warnings`). `gt` names the
    ground-truth variant where a task has several (OVD). `cost` is what the answers cost
    (tokens, max-length hits, the model run's throughput: results/cost.py), None when the
    predictions recorded no cost."""

    run_id: str
    task: str
    split: str
    model: ModelDescription
    metrics: dict[str, float | None]
    counts: dict[str, int]
    protocol: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    predictions: PredictionsRef | None = None
    problems: dict[str, Any] | None = None
    gt: str | None = None
    errors: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    cost: dict[str, Any] | None = None
    alarms: list[dict[str, Any]] = field(default_factory=list)
    schema: str = METRICS_SCHEMA
    #: keys this version does not know (a newer padt-eval's), kept as they were
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def protocol_name(self) -> str:
        return str(self.protocol.get("name") or "standard")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "run_id": self.run_id,
            "task": self.task,
            "split": self.split,
            "model": self.model.to_json(),
            "metrics": dict(self.metrics),
            "counts": dict(self.counts),
            "protocol": dict(self.protocol),
            **({"gt": self.gt} if self.gt is not None else {}),
            "details": self.details,
            "notes": list(self.notes),
            **({"errors": self.errors} if self.errors is not None else {}),
            "predictions": self.predictions.to_json() if self.predictions is not None else None,
            "problems": self.problems,
            **({"cost": self.cost} if self.cost is not None else {}),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
            **({"alarms": [dict(a) for a in self.alarms]} if self.alarms else {}),
            **self.extra,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RunRecord:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        gt = doc.get("gt")
        return cls(
            run_id=str(doc.get("run_id") or ""),
            task=str(doc.get("task") or ""),
            split=str(doc.get("split") or ""),
            model=ModelDescription.from_json(doc.get("model")),
            metrics=dict(doc.get("metrics") or {}),
            counts=dict(doc.get("counts") or {}),
            protocol=dict(doc.get("protocol") or {}),
            details=dict(doc.get("details") or {}),
            notes=list(doc.get("notes") or []),
            predictions=PredictionsRef.from_json(doc.get("predictions")),
            problems=doc.get("problems") if isinstance(doc.get("problems"), dict) else None,
            gt=gt if isinstance(gt, str) else None,
            errors=doc.get("errors"),
            warnings=[w for w in doc.get("warnings") or [] if isinstance(w, str)],
            cost=doc.get("cost") if isinstance(doc.get("cost"), dict) else None,
            alarms=[a for a in doc.get("alarms") or [] if isinstance(a, dict) and isinstance(a.get("message"), str)],
            schema=str(doc.get("schema") or METRICS_SCHEMA),
            extra={k: v for k, v in doc.items() if k not in known},
        )
