"""How big the diff page of two runs gets at 10,000 samples, and how many DOM elements the
browser holds once it has loaded (`padt-eval compare A B --html`).

A synthetic REC split of about `--n` expressions (the demo's shapes, on images given a
photo-like texture so that their JPEGs weigh what a photo's would at the same size: a flat
synthetic picture compresses several times better), two runs of differently perturbed
ground truth with a Qwen-style raw text per answer, scored, compared, and the page written
with the default settings (100 drawn samples, 20 cards a page). It prints the file size
and its parts (the drawings, the per-sample JSON), and, where Chromium is installed, the
number of elements in the loaded page's DOM (the data script's text left out).

    python benchmarks/bench_diff_report.py            # about 10,000 samples
    python benchmarks/bench_diff_report.py --n 1000   # a quick run
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def _texture(world, image_dir: Path, seed: int) -> None:
    """Blend a smooth random texture and a little grain into every image, in place."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for img in world:
        path = image_dir / img.file_name
        base = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
        h, w = base.shape[:2]
        low = rng.uniform(0, 255, (max(2, h // 12), max(2, w // 12), 3)).astype(np.uint8)
        smooth = np.asarray(Image.fromarray(low).resize((w, h), Image.BICUBIC), dtype=np.float32)
        grain = rng.normal(0, 8, base.shape)
        Image.fromarray(np.clip(0.6 * base + 0.4 * smooth + grain, 0, 255).astype(np.uint8)).save(path)


def _with_text(path: Path) -> None:
    """Give each answer the raw text a coordinate-text model would have written for it."""
    lines = []
    for line in path.read_text().splitlines():
        d = json.loads(line)
        boxes = [[round(v) for v in o["bbox"]] for o in d.get("objects") or [] if o.get("bbox")]
        d["text"] = json.dumps([{"bbox_2d": b, "label": "object"} for b in boxes])
        lines.append(json.dumps(d))
    path.write_text("\n".join(lines) + "\n")


def _dom_elements(page: Path, work: Path) -> int | None:
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if chromium is None:
        return None
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
    cmd += [f"--user-data-dir={work / 'profile'}", "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
    dom = re.sub(r'(<script type="application/json" id="diff-data">).*?(</script>)', r"\1\2", dom, flags=re.S)
    return len(re.findall(r"<[a-zA-Z]", dom))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="about this many samples")
    args = ap.parse_args()
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
    from padt_eval.demo.data import make_predictions
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl
    from padt_eval.options import OutputOptions, PredictionsOptions
    from padt_eval.report.diff_report import write_diff_report

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        world = make_world(max(2, round(args.n / 4.5)), seed=0)
        images, split = work / "images", work / "split.json"
        write_images(world, images)
        _texture(world, images, seed=0)
        n = write_padt_jsonl(world, split)
        runs = []
        for seed in (0, 1):
            preds = work / f"preds_{seed}.jsonl"
            make_predictions(PadtRefcocoJsonlReader(split, images, Task.REC), preds, seed=seed)
            _with_text(preds)
            reader = PadtRefcocoJsonlReader(split, images, Task.REC, name="synth_val")
            out = OutputOptions(work / f"rec-run{seed}", f"model {seed}", report=False)
            runs.append(api.score(Task.REC, "synth_val", PredictionsOptions(preds), reader=reader, output=out).out_dir)
        doc, _ = api.compare(runs[0], runs[1], resamples=1000, out=work / "c.json")
        t0 = time.perf_counter()
        page = write_diff_report(runs, work / "diff.html", [doc])
        seconds = time.perf_counter() - t0
        text = page.read_text()
        data = json.loads(re.search(r'id="diff-data">(.*?)</script>', text, re.S).group(1))
        image_bytes = sum(len(u) for u in data["images"])
        size = page.stat().st_size
        print(f"{n:,} samples, {len(data['samples']):,} where the two runs differ, {len(data['images'])} drawn")
        print(
            f"page: {size / 1e6:.2f} MB (drawings {image_bytes / 1e6:.2f} MB, {image_bytes / max(1, len(data['images'])) / 1e3:.1f} kB each;"
        )
        print(
            f"      everything else, mostly the samples' JSON, {(size - image_bytes) / 1e6:.2f} MB); written in {seconds:.1f} s"
        )
        dom = _dom_elements(page, work)
        print("DOM elements after load: " + (str(dom) if dom is not None else "n/a (no Chromium)"))


if __name__ == "__main__":
    main()
