"""Unpack the needed members of a verified archive (zip or tar.gz) into the data root, atomically.

The archive is read once, member by member (`fetch/archives.py`: a tar.gz is a stream), and
the members an output wants are written into a fresh folder under `<root>/.padt-eval/tmp/`
(same file system), checked (the zip's CRC, the gzip stream's own check; required files;
file count), and only then each output is moved into place with one rename. An interrupted
or refused unpack leaves nothing at the output's place.

Only regular files (and the folders they need) are written. A wanted member whose name is
absolute or climbs out with `..`, or that is a link (symbolic or hard, wherever it points),
a device or a pipe, is refused with the archive and the member named: nothing is created
through a link, so no member can land outside the temporary folder.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from padt_eval.fetch.archives import Entry, open_archive
from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.http import NoProgress, Progress
from padt_eval.fetch.sources import Output
from padt_eval.fetch.state import tmp_dir, tree_digest

_CHUNK = 1 << 20


def _wants(output: Output, name: str) -> bool:
    assert output.member is not None
    if output.is_dir:
        return name.startswith(output.member)  # member "" is the whole archive
    return name == output.member


def _refuse_unsafe(archive: Path, entry: Entry) -> None:
    p = PurePosixPath(entry.name)
    if p.is_absolute() or ".." in p.parts or "\\" in entry.name:
        raise FetchError(f"archive {archive} holds an unsafe member name {entry.name!r}; refused")
    if entry.kind == "link":
        raise FetchError(
            f"archive {archive} holds a link {entry.name!r} -> {entry.link!r}; refused (padt-eval unpacks files only)"
        )
    if entry.kind == "other":
        raise FetchError(f"archive {archive} holds {entry.name!r}, neither a file nor a folder (a device or a pipe); refused")


def _copy(entry: Entry, target: Path, tick: Callable[[], None], archive: Path, root: Path) -> str:
    """Write one file member to `target`, calling `tick` after each chunk; its SHA-256."""
    assert entry.open is not None
    target.parent.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256()
    try:
        with entry.open() as src, open(target, "wb") as dst:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                dst.write(chunk)
                sha.update(chunk)
                tick()
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise FetchError(f"disk full while unpacking {archive} into {root}; free some space and run again") from None
        raise FetchError(f"cannot unpack {entry.name} from {archive}: {exc}") from None
    return sha.hexdigest()


def unpack(
    archive: Path, outputs: list[Output], root: Path, progress: Progress | None = None, description: str = ""
) -> list[dict]:
    """Install `outputs` (each absent from `root`) from `archive`; return their stamp records."""
    progress = progress or NoProgress()
    tmp_parent = tmp_dir(root)
    tmp_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{archive.name}.", dir=tmp_parent))
    tree = work / "members"  # the archive's tree, as far as the outputs want it
    files: dict[str, dict[str, tuple[str, int]]] = {o.dest: {} for o in outputs}  # output -> its files' SHA-256, size
    try:
        reader = open_archive(archive)
        try:
            total = reader.total(lambda name: any(_wants(o, name) for o in outputs))
            progress.start(description or f"unpack {archive.name}", total, 0)
            shown = 0

            def tick() -> None:
                nonlocal shown
                progress.advance(reader.done - shown)
                shown = reader.done

            for entry in reader.entries():
                wanting = [o for o in outputs if _wants(o, entry.name)]
                if not wanting:
                    continue
                _refuse_unsafe(archive, entry)
                if entry.kind == "dir":
                    continue  # a folder comes with its files; an empty one is not kept
                sha = _copy(entry, tree / entry.name, tick, archive, root)
                size = (tree / entry.name).stat().st_size
                for o in wanting:
                    assert o.member is not None
                    files[o.dest][entry.name[len(o.member) :] if o.is_dir else entry.name] = (sha, size)
        finally:
            progress.finish()
            reader.close()
        records = [_checked(archive, o, tree, files[o.dest]) for o in outputs]
        for output in outputs:
            dest = root / output.dest
            if dest.exists():
                raise FetchError(f"{dest} appeared while unpacking; not overwriting it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            assert output.member is not None
            os.replace(tree / output.member.rstrip("/") if output.member else tree, dest)
        return records
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _checked(archive: Path, output: Output, tree: Path, written: dict[str, tuple[str, int]]) -> dict:
    """The stamp record of one unpacked output, once it holds what it must."""
    assert output.member is not None
    if not written:
        raise FetchError(f"archive {archive} holds no {output.member or 'file'} (not the expected archive?)")
    shas = {name: sha for name, (sha, _) in written.items()}
    n_bytes = sum(size for _, size in written.values())
    if not output.is_dir:
        return {"dest": output.dest, "kind": "file", "size": n_bytes, "sha256": shas[output.member]}
    src = tree / output.member.rstrip("/")
    lacking = [r for r in output.required if not (src / r).is_file()]
    if lacking:
        raise FetchError(f"archive {archive} lacks {', '.join(output.member + r for r in lacking)}")
    if output.n_files is not None and len(shas) != output.n_files:
        raise FetchError(f"archive {archive} holds {len(shas):,} files under {output.member}, expected {output.n_files:,}")
    return {"dest": output.dest, "kind": "dir", "files": len(shas), "bytes": n_bytes, "tree_sha256": tree_digest(shas)}
