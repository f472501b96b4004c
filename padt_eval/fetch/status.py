"""`padt-eval data status`: what is under the data root, verified or not, and what fetches the rest.

One row per dataset and kind of annotations. Split presence is decided by the split
registry itself (`registry.locate_samples`, `registry.find_images`, over the split table),
so a split counts as present exactly when `padt-eval splits` and rec/res/ovd/ric find it;
the stamps written by `data fetch` add whether the files are the verified download and
unchanged since (`--verify` re-hashes files and re-counts folders instead of comparing
sizes and counts).

States: `verified` (fetched by padt-eval, unchanged), `present` (found, but not fetched by
padt-eval, so unverified), `changed` (differs from what was fetched), `incomplete`,
`missing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from padt_eval.data import registry
from padt_eval.data.split_table import SPLITS, image_folders, splits_fetched_by
from padt_eval.fetch import sources as _sources
from padt_eval.fetch import state
from padt_eval.fetch.http import part_paths
from padt_eval.fetch.sources import Catalog, DatasetSpec, Source


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


def _command(spec: DatasetSpec, kind: str, data_root: str | Path | None, names: list[str] | None = None) -> str:
    names = names or [spec.name]
    cmd = f"padt-eval data fetch {' '.join(names)}"
    if spec.name in names and len(spec.annotations) > 1 and kind != spec.default:
        cmd += f" --annotations {kind}"
    if data_root is not None:
        cmd += f" --to {data_root}"
    return cmd


def images_found(dataset: str, root: Path) -> Path | None:
    """The image folder `data fetch <dataset>` installs, where the split registry finds it."""
    folders = image_folders().get(dataset)
    return registry.find_images(folders, root, None, []) if folders is not None else None


def registry_view(spec: DatasetSpec, kind: str, root: Path) -> tuple[list[str], list[Path]]:
    """(splits the readers would find, the files they would read) for one dataset and kind of
    annotations, asked of the split registry, so status agrees with `splits` and rec/res/ovd/ric.
    A split counts when its files of that kind hold samples, and (for a dataset that installs
    the split's images too, as coco-val2017 does) when those images are there."""
    own_images = images_found(spec.name, root)
    splits = splits_fetched_by(spec.name)
    if not splits:  # an images-only dataset
        return [], [own_images] if own_images is not None else []
    found: list[str] = []
    files: dict[Path, None] = {}
    refs_cache: dict = {}
    for name in splits:
        split = SPLITS[name]
        needs_own_images = split.images.fetch == spec.name
        for layout in dict.fromkeys(lay.name for lay in split.layouts if lay.annotations == kind):
            _, fs, n, error = registry.locate_samples(name, root, layout, refs_cache)
            files.update(dict.fromkeys(fs))
            if fs and error is None and n != 0 and (own_images is not None or not needs_own_images):
                found.append(name)
                break
        if needs_own_images and own_images is not None:
            files[own_images] = None
    return found, list(files)


def status(data_root: str | Path | None = None, *, deep: bool = False, catalog: Catalog | None = None) -> list[StatusRow]:
    catalog = catalog or _sources.CATALOG
    root = registry.default_data_root(data_root)
    rows = []
    for spec in catalog.datasets.values():
        for kind, keys in spec.annotations.items():
            sources = [catalog.sources[k] for k in keys]
            per_source = [source_state(root, s, deep) for s in sources]
            notes = [f"{s.key}: {detail}" for s, (st, detail) in zip(sources, per_source) if detail and st != "verified"]
            row_state = _combine([st for st, _ in per_source])
            where = [str(root / o.dest) for s in sources for o in s.outputs]
            found, files = registry_view(spec, kind, root)
            splits = splits_fetched_by(spec.name)
            complete = len(found) == len(splits) if splits else bool(files)
            nothing_broken = all(st in ("verified", "present", "missing") for st, _ in per_source)
            if complete and nothing_broken and row_state in ("missing", "incomplete"):
                row_state = "present"  # what is missing here, the registry found in another of its usual places
                where = [str(f) for f in files]
            elif (found or files) and row_state == "missing":
                row_state = "incomplete"
            if splits:
                contents = f"{len(found)}/{len(splits)} splits" + (f": {', '.join(found)}" if found else "")
            else:
                contents = _contents(root, sources)
            names = [] if row_state in ("verified", "present") else [spec.name]
            for need in spec.needs:
                if images_found(need, root) is None:
                    notes.append(f"its images come from {need}, which is not found")
                    contents += " (images missing)"
                    names.append(need)
            command = _command(spec, kind, data_root, names) if names else None
            rows.append(
                StatusRow(
                    dataset=spec.name,
                    annotations=kind,
                    state=row_state,
                    contents=contents,
                    where=where,
                    command=command,
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
