"""`padt-eval data fetch`: download, verify, unpack and stamp each source a dataset needs.

Per source, in order, each step only when needed:

1. stamped and every output still as installed → skip (no network at all);
2. outputs already in place but not fetched by padt-eval → leave them, say so;
3. check the disk (when the size is known), download to `.padt-eval/downloads/<file>.part`
   (resuming), verify, rename;
4. unpack an archive into a temporary folder and move each output into place, or move a
   plain file into place;
5. write the stamp; delete the archive unless `keep_archives`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from padt_eval.core.errors import did_you_mean
from padt_eval.data.registry import default_data_root
from padt_eval.fetch import hf, http, state
from padt_eval.fetch import sources as _sources
from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.sources import ANNOTATION_CHOICES, Catalog, Source
from padt_eval.fetch.unpack import unpack


@dataclass
class Outcome:
    dataset: str
    source: str
    action: str  # skipped | in-place | fetched
    detail: str
    downloaded: int = 0  # bytes transferred this run
    resumed_from: int = 0


def _fmt_bytes(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_disk(where: Path, need: int, what: str) -> None:
    free = shutil.disk_usage(_existing_ancestor(where)).free
    if need > free:
        raise FetchError(
            f"not enough disk space for {what}: it needs {_fmt_bytes(need)} under {where}, "
            f"only {_fmt_bytes(free)} free; free some space or choose another --to"
        )


def resolve_names(names: Iterable[str], catalog: Catalog) -> list[str]:
    out: list[str] = []
    for name in names:
        expanded = list(catalog.datasets) if name == "all" else [name]
        for n in expanded:
            if n not in catalog.datasets:
                raise FetchError(
                    f"unknown dataset {n!r}{did_you_mean(n, catalog.datasets)}; choose from {', '.join(catalog.datasets)} or all"
                )
            if n not in out:
                out.append(n)
    if not out:
        raise FetchError("name at least one dataset to fetch")
    return out


def fetch_plan(names: Iterable[str], annotations: str = "official", catalog: Catalog | None = None) -> list[tuple[str, Source]]:
    """(dataset, source) pairs a fetch of `names` downloads, in order, each source once
    (`data fetch --dry-run` prints them)."""
    if annotations not in ANNOTATION_CHOICES:
        raise FetchError(f"--annotations must be one of {', '.join(ANNOTATION_CHOICES)}, not {annotations!r}")
    catalog = catalog or _sources.CATALOG
    plan: list[tuple[str, Source]] = []
    seen: set[str] = set()
    for name in resolve_names(names, catalog):
        for _kind, key in catalog.source_keys(name, annotations):
            if key not in seen:
                seen.add(key)
                plan.append((name, catalog.sources[key]))
    return plan


def fetch(
    names: Iterable[str],
    root: str | Path | None = None,
    annotations: str = "official",
    *,
    keep_archives: bool = False,
    progress: http.Progress | None = None,
    notify: Callable[[str], None] | None = None,
    catalog: Catalog | None = None,
    retries: int = 4,
    timeout: float = http.DEFAULT_TIMEOUT,
    backoff: float = 1.0,
) -> list[Outcome]:
    """Fetch every source of the named datasets into `root` (default: the registry's data root)."""
    catalog = catalog or _sources.CATALOG
    root = default_data_root(root)
    datasets = resolve_names(names, catalog)
    plan = fetch_plan(datasets, annotations, catalog)
    say = notify or (lambda _msg: None)
    outcomes = []
    failures: list[tuple[Source, FetchError]] = []
    for dataset, source in plan:  # one failed source does not stop the others
        try:
            outcome = _fetch_source(dataset, source, root, keep_archives, progress, retries, timeout, backoff, notify=say)
        except FetchError as exc:
            failures.append((source, exc))
            continue
        say(f"{source.title}: {outcome.detail}")
        outcomes.append(outcome)
    from padt_eval.fetch.status import images_found

    for name in datasets:
        for need in catalog.datasets[name].needs:
            if need not in datasets and images_found(need, root) is None:
                say(f"{name} needs the images of {need}, not found under {root}: padt-eval data fetch {need}")
    if len(failures) == 1 and len(plan) == 1:
        raise failures[0][1]
    if failures:
        raise FetchError(
            f"{len(failures)} of {len(plan)} sources failed (the others are in place):\n"
            + "\n".join(f"  {s.key}: {exc}" for s, exc in failures)
        )
    return outcomes


def _fetch_source(
    dataset, source: Source, root: Path, keep_archives, progress, retries, timeout, backoff, notify=None
) -> Outcome:
    stamp = state.read_stamp(root, source.key)
    if stamp:
        changed = state.check_stamped(root, source, stamp)
        if changed is None:
            return Outcome(
                dataset, source.key, "skipped", f"already fetched and verified ({stamp.get('fetched_at', '?')}); skipped"
            )
        if any((root / o.dest).exists() for o in source.outputs):
            raise FetchError(
                f"{root}/{changed} (changed since it was fetched from {source.where}); delete it and run again to fetch it anew"
            )
        # every output was removed by hand: fetch anew
    missing = []
    for o in source.outputs:
        why = state.completeness(root, o)
        if why is None:
            continue
        if (root / o.dest).exists():
            raise FetchError(f"{root / o.dest} exists but is incomplete ({why}); move it away and run again")
        missing.append(o)
    if not missing:
        adopted = _stamp_from_kept_archive(dataset, source, root, keep_archives)
        if adopted is not None:
            return adopted
        return Outcome(
            dataset, source.key, "in-place", "already in place (not fetched by padt-eval, so not verified); left as is"
        )

    with state.lock(root, source.key):
        return _download_and_install(dataset, source, missing, root, keep_archives, progress, retries, timeout, backoff, notify)


def _download_and_install(
    dataset, source: Source, missing, root: Path, keep_archives, progress, retries, timeout, backoff, notify=None
) -> Outcome:
    downloads = state.downloads_dir(root)
    downloads.mkdir(parents=True, exist_ok=True)
    target = downloads / source.filename
    record: dict = {}
    if source.hf_repo is not None:
        hub = hf.resolve(source.hf_repo, source.hf_file, source.hf_revision)
        url, auth = hub.url, hub.auth_header
        expected = http.Expected(size=hub.size, sha256=hub.sha256, git_sha1=hub.git_sha1)
        record["hub"] = {"repo": source.hf_repo, "file": source.hf_file, "commit": hub.commit, "endpoint": hub.endpoint}
    else:
        url, auth = source.url, None
        expected = http.Expected(size=source.size, sha256=source.sha256, md5=source.md5)
    unpacked = (source.unpacked_size or 0) if source.is_archive else 0

    if target.exists() and not target.with_name(target.name + ".part").exists():
        got = None  # a kept or leftover archive: verified like a fresh download below
        try:
            got = _verify_existing(target, expected)
        except FetchError:
            target.unlink()
        if got is not None:
            return _install(dataset, source, missing, root, target, got, url, record, keep_archives, progress)

    part, _ = http.part_paths(target)
    have = part.stat().st_size if part.exists() else 0
    if expected.size is not None:
        check_disk(downloads, max(expected.size - have, 0) + unpacked, f"{source.title} ({url})")

    def space(remaining: int) -> None:
        if expected.size is None:  # the size only became known from the response headers
            check_disk(downloads, remaining + unpacked, f"{source.title} ({url})")

    got = http.download(
        url,
        target,
        expected,
        auth_header=auth,
        progress=progress,
        description=source.filename,
        retries=retries,
        timeout=timeout,
        backoff=backoff,
        check_space=space,
        notify=notify,
    )
    return _install(dataset, source, missing, root, target, got, url, record, keep_archives, progress)


def _stamp_from_kept_archive(dataset, source: Source, root: Path, keep_archives: bool) -> Outcome | None:
    """Outputs in place, no stamp, but the verified archive they came from still in downloads/
    (a run stopped between unpacking and stamping): stamp them now."""
    target = state.downloads_dir(root) / source.filename
    if source.hf_repo is not None or not target.is_file():
        return None
    try:
        got = _verify_existing(target, http.Expected(size=source.size, sha256=source.sha256, md5=source.md5))
    except FetchError:
        return None
    if not got.checked or got.checked == ("size",):
        return None
    record = {"url": source.url, "size": got.size, "sha256": got.sha256, "md5": got.md5, "verified": list(got.checked)}
    record["outputs"] = [state.describe(root, o, deep=True) for o in source.outputs]
    state.write_stamp(root, source, record)
    if not keep_archives:
        target.unlink()
    return Outcome(dataset, source.key, "fetched", f"unpacked earlier from the verified {target.name}; stamped now")


def _verify_existing(path: Path, expected: http.Expected) -> http.Downloaded:
    """Check a complete file left in the downloads folder against what is expected of it."""
    size = path.stat().st_size
    if expected.size is not None and size != expected.size:
        raise FetchError("size differs")
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
            git.update(chunk)
    checked = []
    for name, want, got in (
        ("size", expected.size, size),
        ("sha256", expected.sha256, sha.hexdigest()),
        ("md5", expected.md5, md5.hexdigest()),
        ("git-sha1", expected.git_sha1, git.hexdigest()),
    ):
        if want is not None:
            if want != got:
                raise FetchError(f"{name} differs")
            checked.append(name)
    return http.Downloaded(path, size, sha.hexdigest(), md5.hexdigest(), size, tuple(checked))


def _install(
    dataset, source: Source, missing, root: Path, target: Path, got: http.Downloaded, url, record, keep_archives, progress
) -> Outcome:
    record.update({"url": url, "size": got.size, "sha256": got.sha256, "md5": got.md5, "verified": list(got.checked)})
    if source.is_archive:
        outputs = unpack(target, missing, root, progress, description=f"unpack {target.name}")
        present = [state.describe(root, o, deep=True) for o in source.outputs if o not in missing]
        record["outputs"] = outputs + present
    else:
        (output,) = source.outputs
        dest = root / output.dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(target, dest)
        record["outputs"] = [{"dest": output.dest, "kind": "file", "size": got.size, "sha256": got.sha256}]
    state.write_stamp(root, source, record)
    if source.is_archive and not keep_archives:
        target.unlink(missing_ok=True)
    verified = ", ".join(got.checked) or "nothing known to check against"
    how = f"resumed at {_fmt_bytes(got.resumed_from)}, " if got.resumed_from else ""
    where = ", ".join(str(root / o.dest) for o in missing)
    return Outcome(
        dataset,
        source.key,
        "fetched",
        f"fetched {_fmt_bytes(got.size)} ({how}verified: {verified}) into {where}",
        downloaded=got.size - got.resumed_from,
        resumed_from=got.resumed_from,
    )
