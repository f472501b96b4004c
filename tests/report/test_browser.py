"""The HTML pages in a real headless Chromium: tables and images must render.

Skips when no Chromium is installed (`make install` installs it: the Debian package
`chromium`). Set PADT_EVAL_CHROMIUM to use another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

from padt_eval import api

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str | None:
    env = os.environ.get("PADT_EVAL_CHROMIUM")
    if env:
        return env
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed: `apt-get install chromium` (make install does it) to run the browser test"
)


def _run(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # CI containers run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--hide-scrollbars",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_run_report_renders_images_and_tables(scored_runs, tmp_path):
    _, runs = scored_runs
    url = (runs["res"] / "report.html").resolve().as_uri()
    dom = _run(["--virtual-time-budget=5000", "--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # the page's load handler counts the images that decoded (complete and naturalWidth > 0):
    # the 12 worst samples plus the error section's samples of each miss category

    n_cards = dom.stdout.count('<div class="card"')
    assert n_cards > 12
    assert f'data-images-loaded="{n_cards}/{n_cards}"' in dom.stdout
    for table in ("metrics", "failures"):
        assert f'data-table="{table}"' in dom.stdout
    # and they are really painted: the screenshot holds the ground-truth green of the drawings
    shot = tmp_path / "shot.png"
    res = _run(["--window-size=1200,1600", f"--screenshot={shot}", url], tmp_path)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    green = (px[..., 1] > 150) & (px[..., 0] < 90) & (px[..., 2] < 90)
    assert green.sum() > 200
    assert px.std() > 10  # not a blank page


def test_leaderboard_page_renders_its_tables(scored_runs, tmp_path):
    root, _ = scored_runs
    from padt_eval.report.reported import COLUMNS

    (tmp_path / "none.csv").write_text(",".join(COLUMNS) + "\n")  # no reported numbers
    api.leaderboard(root / "results", tmp_path, reported=tmp_path / "none.csv")
    dom = _run(["--dump-dom", (tmp_path / "leaderboard.html").resolve().as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for table in ("rec", "res", "rec_errors", "runs"):
        assert f'<table data-table="{table}">' in dom.stdout
    assert dom.stdout.count('<tr class="measured">') >= 4


def test_run_report_error_section_renders_bars_and_samples(error_runs, tmp_path):
    import re

    runs, expected = error_runs
    url = (runs["rec"] / "report.html").resolve().as_uri()
    dom = _run(["--virtual-time-budget=5000", "--dump-dom", url], tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    section = html.split('<section id="errors">')[1].split("</section>")[0]
    # one bar per category, its width proportional to the category's share
    widths = dict(re.findall(r'<rect data-category="(\w+)" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', section))
    assert set(widths) == set(expected.rec)
    top = max(expected.rec.values())
    widest = max(float(w) for w in widths.values())
    for c, n in expected.rec.items():
        assert float(widths[c]) == pytest.approx(widest * n / top, abs=0.11)
    # the worst samples of each designed miss are drawn, and every image on the page decoded
    groups = set(re.findall(r'data-error-category="(\w+)"', section))
    assert {"wrong_object", "localization"} <= groups
    assert section.count('<div class="card"') >= 2 * len(groups)
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', html)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) > 12
    # and painted: the section's bar colours show in a screenshot
    shot = tmp_path / "errors.png"
    res = _run(["--window-size=1200,3000", f"--screenshot={shot}", url], tmp_path)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    orange = (abs(px[..., 0] - 0xD9) < 8) & (abs(px[..., 1] - 0x82) < 8) & (abs(px[..., 2] - 0x2B) < 8)
    assert orange.sum() > 500


def test_diff_report_filters_and_pages_in_the_browser(demo_results, tmp_path):
    """The diff page of two demo runs: no console message, every filter button shows its
    group's samples (count and ids), the pager moves, and the drawings are painted."""
    import re

    from padt_eval.report.diff_report import write_diff_report
    from padt_eval.report.diff_set import build_diff_set
    from padt_eval.report.runs import load_run

    a = demo_results["rec-demo_refcoco_val-perturbed_ground_truth"]
    b = demo_results["rec-demo_refcoco_val-perturbed_ground_truth_b"]
    doc, _ = api.compare(a, b, resamples=200, out=tmp_path / "c.json")
    page_size = 4
    out = write_diff_report([a, b], tmp_path / "diff.html", [doc], page_size=page_size)
    ds = build_diff_set([load_run(a), load_run(b)])
    assert len(ds.samples) > page_size

    def open_page(fragment: str = "") -> str:
        res = _run(
            ["--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0", "--dump-dom", out.resolve().as_uri() + fragment],
            tmp_path,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        assert ":CONSOLE" not in res.stderr, [line for line in res.stderr.splitlines() if ":CONSOLE" in line]
        assert 'data-js-errors="0"' in res.stdout
        return res.stdout

    def shown(dom: str) -> tuple[int, list[str]]:
        count = int(re.search(r'data-visible-count="(\d+)"', dom).group(1))
        return count, re.findall(r'<div class="card" data-sample="([^"]+)"', dom)

    dom = open_page()
    n, ids = shown(dom)
    assert n == len(ds.samples) and ids == [s.sample_id for s in ds.samples[:page_size]]
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) == page_size  # the first samples are all drawn
    groups = [k for k, v in ds.group_counts.items() if v and (not k.startswith("error:") or k == "error:localization")]
    assert {"only:0", "only:1", "none"} <= set(groups)
    for key in groups:
        n, ids = shown(open_page(f"#filter={key}"))
        members = [s.sample_id for s in ds.samples if key in s.groups]
        assert n == ds.group_counts[key] == len(members) and ids == members[:page_size], key
    dom = open_page("#page=2")
    assert 'data-page="2"' in dom and shown(dom)[1] == [s.sample_id for s in ds.samples[page_size : 2 * page_size]]
    shot = tmp_path / "diff.png"
    res = _run(["--window-size=1200,2400", f"--screenshot={shot}", out.resolve().as_uri()], tmp_path)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert px.std() > 10  # not a blank page
    green = (px[..., 1] > 150) & (px[..., 0] < 90) & (px[..., 2] < 90)  # ground truth
    blue = (abs(px[..., 0] - 0x1F) < 30) & (abs(px[..., 1] - 0x5F) < 30) & (px[..., 2] > 180)  # run A
    assert green.sum() > 200 and blue.sum() > 100
