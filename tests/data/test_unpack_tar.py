"""`data fetch` unpacks gzipped tars (Ref-L4's images.tar.gz) as it does zips: atomically, verified,
refusing whatever would land outside its folder, and naming archive and member when it is corrupt.

Every archive is built here with `tarfile`; expected stamp records are recomputed with hashlib."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from padt_eval.fetch import fetch
from padt_eval.fetch.archives import CorruptArchive
from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.sources import Output
from padt_eval.fetch.state import downloads_dir, stamp_path, tmp_dir, tree_digest
from padt_eval.fetch.unpack import unpack

IMAGES = {"coco_1.jpg": b"\xff\xd8one" * 300, "o365_2.jpg": b"\xff\xd8two" * 500, "sub/3.jpg": b"three"}


def tar_gz(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                name, data = m
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def _write(tmp_path: Path, data: bytes, name: str = "images.tar.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


WHOLE = Output(dest="ref_l4/images", member="")


def _nothing_left(root: Path) -> None:
    assert not (root / "ref_l4").exists()
    assert not tmp_dir(root).exists() or list(tmp_dir(root).iterdir()) == []


def test_a_tar_gz_unpacks_whole_into_its_folder_with_a_verifiable_record(tmp_path):
    dot = tarfile.TarInfo(".")  # `tar czf images.tar.gz -C images .` starts with "./" and holds "./"
    dot.type = tarfile.DIRTYPE
    members = [dot, ("./coco_1.jpg", IMAGES["coco_1.jpg"]), ("o365_2.jpg", IMAGES["o365_2.jpg"]), ("./sub/3.jpg", b"three")]
    archive = _write(tmp_path, tar_gz(members))
    root = tmp_path / "data"
    (record,) = unpack(archive, [WHOLE], root)
    folder = root / "ref_l4" / "images"
    assert {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == IMAGES
    shas = {name: hashlib.sha256(data).hexdigest() for name, data in IMAGES.items()}
    assert record == {
        "dest": "ref_l4/images",
        "kind": "dir",
        "files": 3,
        "bytes": sum(map(len, IMAGES.values())),
        "tree_sha256": tree_digest(shas),
    }
    assert list(tmp_dir(root).iterdir()) == []


def test_a_tar_gz_member_folder_and_file_outputs_take_only_their_members(tmp_path):
    archive = _write(tmp_path, tar_gz([("val/a.json", b"{}"), ("val/a.jpg", b"jpg"), ("test/b.jpg", b"no"), ("x.txt", b"x")]))
    root = tmp_path / "data"
    dir_rec, file_rec = unpack(
        archive, [Output(dest="rs/val", member="val/", required=("a.json",)), Output(dest="x", member="x.txt")], root
    )
    assert sorted(p.name for p in (root / "rs" / "val").iterdir()) == ["a.jpg", "a.json"]
    assert (root / "x").read_bytes() == b"x" and file_rec["sha256"] == hashlib.sha256(b"x").hexdigest()
    assert dir_rec["files"] == 2 and not (root / "test").exists()


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (("/abs/evil.jpg", b"x"), "unsafe member name '/abs/evil.jpg'"),
        (("../evil.jpg", b"x"), "unsafe member name '../evil.jpg'"),
        (("sub/../../evil.jpg", b"x"), "unsafe member name 'sub/../../evil.jpg'"),
        (link("sub/out.jpg", "../../../evil.jpg"), r"link 'sub/out.jpg' -> '../../../evil.jpg'; refused"),
        (link("abs.jpg", "/etc/passwd"), r"link 'abs.jpg' -> '/etc/passwd'; refused"),
        (link("hard.jpg", "../outside.jpg", hard=True), r"link 'hard.jpg' -> '../outside.jpg'; refused"),
    ],
    ids=["absolute", "dotdot", "dotdot-inside", "symlink-out", "symlink-absolute", "hardlink-out"],
)
def test_a_member_that_would_land_outside_is_refused_and_nothing_is_placed(tmp_path, member, message):
    (tmp_path / "in").mkdir()  # the archive beside the data root, not in it
    archive = _write(tmp_path / "in", tar_gz([("coco_1.jpg", b"ok"), member, ("o365_2.jpg", b"ok")]))
    root = tmp_path / "deep" / "data"
    with pytest.raises(FetchError, match=rf"archive {archive} holds an? .*{message}"):
        unpack(archive, [WHOLE], root)
    _nothing_left(root)
    assert not list(tmp_path.rglob("evil.jpg")) and not list(tmp_path.rglob("out.jpg"))


def test_a_device_member_is_refused(tmp_path):
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    archive = _write(tmp_path, tar_gz([fifo]))
    with pytest.raises(FetchError, match="holds 'pipe', neither a file nor a folder"):
        unpack(archive, [WHOLE], tmp_path / "data")
    _nothing_left(tmp_path / "data")


def test_a_truncated_tar_gz_names_the_archive_and_the_member(tmp_path):
    data = tar_gz([("coco_1.jpg", IMAGES["coco_1.jpg"]), ("o365_2.jpg", bytes(range(256)) * 400)])
    archive = _write(tmp_path, data[: len(data) * 3 // 4])
    with pytest.raises(CorruptArchive, match=rf"archive {archive} is corrupt (at member|after member) (o365_2|coco_1)\.jpg"):
        unpack(archive, [WHOLE], tmp_path / "data")
    _nothing_left(tmp_path / "data")


def test_a_tar_gz_with_a_damaged_member_names_it(tmp_path):
    # an uncompressible member, so that the damage lands inside its deflate stream
    noise = hashlib.shake_256(b"seed").digest(60_000)
    data = bytearray(tar_gz([("coco_1.jpg", b"small"), ("noise.jpg", noise), ("o365_2.jpg", b"small")]))
    data[len(data) // 2] ^= 0xFF
    archive = _write(tmp_path, bytes(data))
    # zlib's own checks name the member being read; a damaged stored block is caught by the
    # gzip stream's CRC-32 at its end, after the last member
    with pytest.raises(CorruptArchive, match=rf"archive {archive} is corrupt (at|after) member (noise|coco_1|o365_2)\.jpg"):
        unpack(archive, [WHOLE], tmp_path / "data")
    _nothing_left(tmp_path / "data")


def test_a_file_that_is_neither_zip_nor_tar_gz_is_named(tmp_path):
    archive = _write(tmp_path, b"<html>not found</html>")
    with pytest.raises(FetchError, match=rf"cannot open archive {archive}: neither a zip nor a gzipped tar"):
        unpack(archive, [WHOLE], tmp_path / "data")
    gz = _write(tmp_path, gzip.compress(b"plain text, not a tar"), "plain.gz")
    with pytest.raises(CorruptArchive, match=rf"archive {gz} is corrupt"):
        unpack(gz, [WHOLE], tmp_path / "data")


def test_a_zip_symlink_is_refused_as_a_tar_one(tmp_path):
    import stat
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("val/a.jpg", b"ok")
        info = zipfile.ZipInfo("val/out.jpg")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../evil.jpg")
    archive = _write(tmp_path, buf.getvalue(), "val.zip")
    with pytest.raises(FetchError, match=r"link 'val/out.jpg' -> '../../evil.jpg'; refused"):
        unpack(archive, [Output(dest="rs/val", member="val/")], tmp_path / "data")
    assert not (tmp_path / "data" / "rs").exists()


def test_data_fetch_installs_ref_l4_images_from_the_hub_and_skips_them_after(catalog, hub, tmp_path):
    from padt_eval.data.split_table import REF_L4_IMAGES

    data = tar_gz(list(IMAGES.items()))
    hub.add("JierunChen/Ref-L4", "images.tar.gz", data)
    root = tmp_path / "data"
    (o,) = fetch(["ref-l4-images"], root)
    assert o.action == "fetched"
    folder = root / REF_L4_IMAGES.candidates[0]
    assert (folder / "coco_1.jpg").read_bytes() == IMAGES["coco_1.jpg"] and (folder / "sub" / "3.jpg").is_file()
    import json

    stamp = json.loads(stamp_path(root, "ref-l4-images").read_text())
    assert stamp["sha256"] == hashlib.sha256(data).hexdigest() and "sha256" in stamp["verified"]
    assert stamp["outputs"][0]["files"] == 3
    assert list(downloads_dir(root).iterdir()) == []  # the archive is removed once unpacked
    (again,) = fetch(["ref-l4-images"], root)
    assert again.action == "skipped"


def test_a_corrupt_tar_gz_from_the_hub_leaves_nothing_and_the_next_fetch_installs(catalog, hub, tmp_path):
    good = tar_gz([("coco_1.jpg", hashlib.shake_256(b"a").digest(40_000)), ("o365_2.jpg", b"x")])
    hub.add("JierunChen/Ref-L4", "images.tar.gz", good[: len(good) // 2])  # the Hub's own SHA-256 is of the bad file
    root = tmp_path / "data"
    with pytest.raises(FetchError, match="images.tar.gz is corrupt"):
        fetch(["ref-l4-images"], root)
    assert not (root / "ref_l4").exists() and not stamp_path(root, "ref-l4-images").exists()
    hub.add("JierunChen/Ref-L4", "images.tar.gz", good)
    (o,) = fetch(["ref-l4-images"], root)
    assert o.action == "fetched" and (root / "ref_l4" / "images" / "o365_2.jpg").read_bytes() == b"x"
