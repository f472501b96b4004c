"""Hostile image and input files (issue 25, item 3): a decompression bomb, a FIFO, a
device, huge boxes. Each is one sample's error naming the file, or a message naming what
the path is; none blocks or kills a run. The code before this change hung on a FIFO, so
those tests run the command in a subprocess whose `timeout` only guards against a hang
(it asserts nothing about speed)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from padt_eval import api
from padt_eval.cli import app
from padt_eval.core.errors import DataError
from padt_eval.core.images import open_rgb
from padt_eval.core.types import ImageRef, Task
from padt_eval.data.registry import open_split
from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

REPO = Path(__file__).resolve().parents[1]
HANG_GUARD_S = 240  # generous: only a hang (the old behaviour on a FIFO) reaches it
runner = CliRunner()


def write_png_bomb(path: Path, side: int = 30000) -> None:
    """A valid 1-bit greyscale PNG of side x side pixels, all black: ~110 KB on disk,
    `side`² pixels decoded (a decompression bomb)."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.fixture
def hostile_root(synth_root, tmp_path):
    """A copy of the synthetic RefCOCO data root whose tests replace one image."""
    root = tmp_path / "data"
    shutil.copytree(synth_root, root)
    return root


def _first_image(root: Path) -> Path:
    return sorted((root / "coco" / "train2014").iterdir())[0]


def _predictions(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def _errors_name_only(preds: list[dict], image: Path, words: str) -> None:
    """The samples of `image` are ERRORs whose reason names it and says `words`; no other is."""
    bad = [p for p in preds if p["parse_status"] == "error"]
    assert bad, "the hostile image produced no error record"
    for p in bad:
        assert str(image) in p["parse_reason"] and words in p["parse_reason"], p["parse_reason"]
    assert len(bad) < len(preds)


def test_open_refuses_a_bomb_before_decoding_it(tmp_path):
    bomb = tmp_path / "bomb.png"
    write_png_bomb(bomb)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(
        DataError, match=r"bomb\.png is a decompression bomb \(.*900000000 pixels.*\), over the limit of 100,000,000 pixels"
    ):
        open_rgb(ImageRef(str(bomb), 30000, 30000))


def test_image_limits_are_configurable(tmp_path, monkeypatch):
    from PIL import Image

    small = tmp_path / "small.png"
    Image.new("RGB", (40, 30)).save(small)
    ref = ImageRef(str(small), 40, 30)
    assert open_rgb(ref).size == (40, 30)
    monkeypatch.setenv("PADT_EVAL_MAX_IMAGE_PIXELS", "1199")
    with pytest.raises(DataError, match="40x30 = 1,200 pixels, over the limit of 1,199"):
        open_rgb(ref)
    monkeypatch.setenv("PADT_EVAL_MAX_IMAGE_PIXELS", "1200")
    monkeypatch.setenv("PADT_EVAL_MAX_IMAGE_BYTES", str(small.stat().st_size - 1))
    with pytest.raises(DataError, match=r"small\.png is \d+ bytes, over the limit"):
        open_rgb(ref)


@pytest.mark.parametrize("model", ["colour-finder", "padt"])
def test_I04_a_decompression_bomb_is_one_samples_error_in_every_adapter(hostile_root, tmp_path, model, request):
    """I04: the PaDT adapter re-raised DecompressionBombError (the rank failed, every rerun
    died at the same sample). Now the runner makes it that sample's ERROR, for any adapter."""
    bomb = _first_image(hostile_root)
    write_png_bomb(bomb)
    if model == "padt":
        options = ModelOptions(str(request.getfixturevalue("tiny_checkpoint")), "padt", {"max_new_tokens": 4})
    else:
        options = ModelOptions("colour-finder")
    out = tmp_path / "run"
    api.run_model(
        Task.REC,
        "refcoco_val",
        options,
        data=DataOptions(data_root=hostile_root),
        run=RunOptions(1, batch_size=4, loader_workers=0),
        output=OutputOptions(out),
    )
    _errors_name_only(_predictions(out), bomb, "over the limit of 100,000,000 pixels")


def _cli(args: list[str], timeout: int = HANG_GUARD_S) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "padt_eval.cli", *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO
    )


def test_I05_an_image_that_is_a_fifo_is_one_samples_error(hostile_root, tmp_path):
    """I05: opening a FIFO blocks until a writer comes; the model run hung for ever."""
    fifo = _first_image(hostile_root)
    fifo.unlink()
    os.mkfifo(fifo)
    out = tmp_path / "run"
    r = _cli(
        ["rec", "-s", "refcoco_val", "--data-root", str(hostile_root), "--model", "colour-finder"]
        + ["-o", str(out), "--device", "cpu", "--loader-workers", "0", "-b", "4"]
    )
    assert r.returncode == 0, r.stdout + r.stderr
    _errors_name_only(_predictions(out), fifo, "FIFO")


def test_I06_scoring_a_predictions_file_does_not_open_a_fifo_image_for_the_report(hostile_root, tmp_path):
    """I06: predictions-file scoring wrote metrics.json, then hung in the HTML report
    opening the image (a FIFO) to draw it. Now the card says why it is not drawn."""
    fifo = _first_image(hostile_root)
    preds = tmp_path / "preds.jsonl"
    with preds.open("w") as f:  # exact answers, but misses on the FIFO's samples: those are drawn first
        for s in open_split("refcoco_val", Task.REC, data_root=hostile_root):
            box = [0.0, 0.0, 1.0, 1.0] if s.image.path == str(fifo) else s.objects[0].bbox
            f.write(json.dumps({"sample_id": s.sample_id, "objects": [{"bbox": box}], "parse_status": "ok"}) + "\n")
    fifo.unlink()
    os.mkfifo(fifo)
    out = tmp_path / "scored"
    r = _cli(["rec", "-s", "refcoco_val", "--data-root", str(hostile_root), "-p", str(preds), "-o", str(out)])
    assert r.returncode == 0, r.stdout + r.stderr
    page = next(out.rglob("report.html")).read_text()
    assert f"image {fifo} is a FIFO (named pipe), not a regular file" in page


def test_P23_huge_boxes_are_drawn_clipped(tmp_path):
    """P23: six [0,0,1e10,1e10] boxes took 42.6 s to draw. Drawn clipped to the canvas they
    look the same: the visible left and top sides, no right or bottom side."""
    code = (
        "import base64, io, numpy as np\n"
        "from PIL import Image\n"
        "from padt_eval.report.draw import render_sample\n"
        "boxes = [([0.0, 0.0, 1e12, 1e12], None)] * 6\n"
        "uri = render_sample(Image.new('RGB', (200, 100), (255, 255, 255)), 200, 100, [], boxes, 0)\n"
        "im = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(',', 1)[1]))).convert('RGB')).astype(int)\n"
        "red = (im[..., 0] > 180) & (im[..., 1] < 110) & (im[..., 2] < 110)\n"
        "print(int(red[:, :2].mean() > 0.8), int(red[:2, :].mean() > 0.8), int(red[10:-10, -3:].any()), int(red[-3:, 10:-10].any()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1", "0", "0"]  # left and top sides drawn; right and bottom lie beyond


def test_clip_to_canvas_keeps_a_box_inside_unchanged():
    from padt_eval.report.draw import clip_to_canvas

    assert clip_to_canvas([10, 20, 5, 40], 100, 50, margin=3) == [5, 20, 10, 40]
    assert clip_to_canvas([-1e10, 10, 1e10, 1e9], 100, 50, margin=3) == [-3, 10, 103, 53]
    assert clip_to_canvas([200, 0, 300, 10], 100, 50, margin=3) is None
    assert clip_to_canvas([0, 0, float("nan"), 10], 100, 50, margin=3) is None


def _fifo(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    os.mkfifo(path)
    return path


def test_P12_a_fifo_given_as_predictions_is_named_as_such(synth_root, tmp_path):
    fifo = _fifo(tmp_path, "preds.jsonl")
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", str(fifo), "--no-report"])
    assert r.exit_code == 2, r.output
    assert f"predictions file {fifo} is a FIFO (named pipe), not a regular file" in r.output


def test_P13_a_device_given_as_predictions_is_named_as_such(synth_root, tmp_path):
    r = runner.invoke(app, ["rec", "-s", "refcoco_val", "--data-root", str(synth_root), "-p", "/dev/zero", "--no-report"])
    assert r.exit_code == 2, r.output
    assert "predictions file /dev/zero is a character device, not a regular file" in r.output


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_S11_a_fifo_or_device_given_as_split_is_named_as_such(synth_root, tmp_path, kind):
    path = _fifo(tmp_path, "split.jsonl") if kind == "fifo" else Path("/dev/zero")
    preds = tmp_path / "p.jsonl"
    preds.write_text("")
    r = runner.invoke(app, ["rec", "-s", str(path), "-p", str(preds), "--no-report"])
    assert r.exit_code == 2, r.output
    what = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    assert f"split file {path} is {what}, not a regular file" in r.output
