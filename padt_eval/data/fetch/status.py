"""`padt-eval data status`: what is under the data root, verified or not, and what fetches the rest.

One row per dataset and kind of annotations. Split presence is decided by the split
registry itself (`registry.locate`, `registry.find_image_root`), so a split counts as
present exactly when `padt-eval rec/res` would find it; the stamps written by `data fetch`
add whether the files are the verified download and unchanged since (`--verify` re-hashes
files and re-counts folders instead of comparing sizes and counts).

States: `verified` (fetched by padt-eval, unchanged), `present` (found, but not fetched by
padt-eval, so unverified), `changed` (differs from what was fetched), `incomplete`,
`missing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from padt_eval.data import registry
from padt_eval.data.fetch import state
from padt_eval.data.fetch.http import part_paths
from padt_eval.data.fetch import sources as _sources
from padt_eval.data.fetch.sources import Catalog, DatasetSpec, Source

LAYOUT_OF = {"official": "refer", "padt": "padt-jsonl", "images": "images"}


@dataclass
class StatusRow:
    dataset: str
    annotations: str  # official | padt | images
    state: str  # verified | present | changed | incomplete | missing
    contents: str  # which splits, or what the folder holds
    where: list[str]
    command: str | None  # what fetches it, when it is not complete
    notes: list[str] = field(default_factory=list)


def source_state(root: Path, source: Source, deep: bool = False) -> tuple[str, str]:
    """(state, detail) of one source's outputs under `root`."""
    stamp = state.read_stamp(root, source.key)
    exists = [(root / o.dest).exists() for o in source.outputs]
    if stamp:
        changed = state.check_stamped(root, source, stamp, deep=deep)
        if changed is None:
            how = ", ".join(stamp.get("verified") or []) or "no checksum known"
            return "verified", f"fetched {stamp.get('fetched_at', '?')} from {stamp.get('from', source.where)} (checked: {how})"
        if any(exists):
            return "changed", f"{changed}"
    whys = [state.completeness(root, o) for o in source.outputs]
    if all(w is None for w in whys):
        return "present", "not fetched by padt-eval: unverified"
    if not any(exists):
        part, _ = part_paths(state.downloads_dir(root) / source.filename)
        if part.exists():
            size = part.stat().st_size
            of = f" of {source.size:,}" if source.size else ""
            return "missing", f"partial download of {source.title}: {size:,}{of} bytes kept; `data fetch` resumes it"
        return "missing", ""
    return "incomplete", "; ".join(f"{o.dest}: {w}" for o, w in zip(source.outputs, whys) if w)


def _combine(states: list[str]) -> str:
    if all(s == "verified" for s in states):
        return "verified"
    if "changed" in states:
        return "changed"
    if all(s in ("verified", "present") for s in states):
        return "present"
    if all(s == "missing" for s in states):
        return "missing"
    return "incomplete"


def _command(spec: DatasetSpec, kind: str, data_root: str | Path | None) -> str:
    cmd = f"padt-eval data fetch {spec.name}"
    if len(spec.annotations) > 1 and kind != spec.default:
        cmd += f" --annotations {kind}"
    if data_root is not None:
        cmd += f" --to {data_root}"
    return cmd


def status(data_root: str | Path | None = None, *, deep: bool = False, catalog: Catalog | None = None) -> list[StatusRow]:
    catalog = catalog or _sources.CATALOG
    root = registry.default_data_root(data_root)
    rows = []
    for spec in catalog.datasets.values():
        for kind, keys in spec.annotations.items():
            sources = [catalog.sources[k] for k in keys]
            per_source = [source_state(root, s, deep) for s in sources]
            states = [st for st, _ in per_source]
            notes = [f"{s.key}: {detail}" for s, (st, detail) in zip(sources, per_source) if detail and st != "verified"]
            where = [str(root / o.dest) for s in sources for o in s.outputs]
            row_state = _combine(states)
            if spec.splits:  # referring splits: ask the registry what a reader would find
                layout = LAYOUT_OF[kind]
                found = [sp for sp in spec.splits if registry.locate(sp, root, layout)[1]]
                if len(found) == len(spec.splits) and row_state in ("missing", "incomplete"):
                    row_state = "present"  # found by the registry in another of its usual places
                    where = sorted({str(f) for sp in found for f in registry.locate(sp, root, layout)[1]})
                elif found and row_state == "missing":
                    row_state = "incomplete"
                contents = f"{len(found)}/{len(spec.splits)} splits" + (f": {', '.join(found)}" if found else "")
            else:
                contents = _contents(root, sources)
                if kind == "images" and row_state in ("missing", "incomplete"):
                    img = registry.find_image_root(root, None, [])
                    if img is not None and img != root / sources[0].outputs[0].dest:
                        row_state, where, contents = "present", [str(img)], "image folder found by the registry"
            if spec.needs:
                notes.append(f"reads the images of {', '.join(spec.needs)}")
            rows.append(
                StatusRow(
                    dataset=spec.name,
                    annotations=kind,
                    state=row_state,
                    contents=contents,
                    where=where,
                    command=None if row_state in ("verified", "present") else _command(spec, kind, data_root),
                    notes=notes,
                )
            )
    return rows


def _contents(root: Path, sources: list[Source]) -> str:
    parts = []
    for s in sources:
        for o in s.outputs:
            p = root / o.dest
            if o.is_dir:
                if p.is_dir():
                    n = sum(1 for _ in state.dir_files(p))
                    parts.append(f"{Path(o.dest).name}/: {n:,}" + (f" of {o.n_files:,}" if o.n_files else "") + " files")
                else:
                    parts.append(f"{Path(o.dest).name}/: —")
            else:
                parts.append(f"{Path(o.dest).name}: " + (f"{p.stat().st_size:,} bytes" if p.is_file() else "—"))
    return "; ".join(parts)
