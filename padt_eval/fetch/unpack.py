"""Unpack the needed members of a verified zip archive into the data root, atomically.

Members are extracted into a fresh folder under `<root>/.padt-eval/tmp/` (same file system),
checked (CRC by zipfile; required files; file count), and only then each output is moved
into place with one rename. An interrupted unpack leaves nothing at the output's place.
Member names that are absolute or climb out with `..` are refused.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.http import NoProgress, Progress
from padt_eval.fetch.sources import Output
from padt_eval.fetch.state import tmp_dir, tree_digest

_CHUNK = 1 << 20


def _members(zf: zipfile.ZipFile, archive: Path, output: Output) -> list[zipfile.ZipInfo]:
    assert output.member is not None
    if output.is_dir:
        picked = [i for i in zf.infolist() if i.filename.startswith(output.member) and not i.is_dir()]
    else:
        picked = [i for i in zf.infolist() if i.filename == output.member]
    if not picked:
        raise FetchError(f"archive {archive} holds no {output.member} (not the expected archive?)")
    for info in picked:
        p = PurePosixPath(info.filename)
        if p.is_absolute() or ".." in p.parts or "\\" in info.filename:
            raise FetchError(f"archive {archive} holds an unsafe member name {info.filename!r}; refused")
    return picked


def unpack(
    archive: Path, outputs: list[Output], root: Path, progress: Progress | None = None, description: str = ""
) -> list[dict]:
    """Install `outputs` (each absent from `root`) from `archive`; return their stamp records."""
    progress = progress or NoProgress()
    tmp_parent = tmp_dir(root)
    tmp_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{archive.name}.", dir=tmp_parent))
    records: list[dict] = []
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as exc:
            raise FetchError(f"cannot open archive {archive}: {exc}") from None
        with zf:
            plan = [(o, _members(zf, archive, o)) for o in outputs]
            total = sum(i.file_size for _, members in plan for i in members)
            progress.start(description or f"unpack {archive.name}", total, 0)
            try:
                for output, members in plan:
                    n_bytes = 0
                    file_shas: dict[str, str] = {}
                    for info in members:
                        target = work / info.filename
                        target.parent.mkdir(parents=True, exist_ok=True)
                        sha = hashlib.sha256()
                        try:
                            with zf.open(info) as src, open(target, "wb") as dst:
                                for chunk in iter(lambda: src.read(_CHUNK), b""):
                                    dst.write(chunk)
                                    sha.update(chunk)
                                    n_bytes += len(chunk)
                                    progress.advance(len(chunk))
                        except zipfile.BadZipFile as exc:
                            raise FetchError(f"archive {archive} is corrupt at {info.filename}: {exc}") from None
                        except OSError as exc:
                            if exc.errno == errno.ENOSPC:
                                raise FetchError(
                                    f"disk full while unpacking {archive} into {root}; free some space and run again"
                                ) from None
                            raise FetchError(f"cannot unpack {info.filename} from {archive}: {exc}") from None
                        file_shas[info.filename[len(output.member) :] if output.is_dir else info.filename] = sha.hexdigest()
                    src_path = work / output.member.rstrip("/")
                    if output.is_dir:
                        lacking = [r for r in output.required if not (src_path / r).is_file()]
                        if lacking:
                            raise FetchError(f"archive {archive} lacks {', '.join(output.member + r for r in lacking)}")
                        if output.n_files is not None and len(members) != output.n_files:
                            raise FetchError(
                                f"archive {archive} holds {len(members):,} files under {output.member}, expected {output.n_files:,}"
                            )
                        records.append(
                            {
                                "dest": output.dest,
                                "kind": "dir",
                                "files": len(members),
                                "bytes": n_bytes,
                                "tree_sha256": tree_digest(file_shas),
                            }
                        )
                    else:
                        records.append({"dest": output.dest, "kind": "file", "size": n_bytes, "sha256": sha.hexdigest()})
            finally:
                progress.finish()
        for output in outputs:
            dest = root / output.dest
            if dest.exists():
                raise FetchError(f"{dest} appeared while unpacking; not overwriting it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(work / output.member.rstrip("/"), dest)
        return records
    finally:
        shutil.rmtree(work, ignore_errors=True)
