"""docs/metrics.md quotes padt-eval's TIDE figures on the demo's OVD run (and tidecv's beside
them, from tests/metrics/crosscheck_tidecv.py). This test rebuilds that run as `padt-eval
demo` makes it by default (the demo's own functions: 50 images, seed 0), scores it, and
requires every padt-eval figure the paragraph prints, so the text cannot drift from the data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from padt_eval import api
from padt_eval.core.types import Task
from padt_eval.demo.ovd_ric import make_ovd_predictions
from padt_eval.demo.run import DemoPaths
from padt_eval.demo.synthetic import as_val2017, make_world, write_coco_instances, write_images
from padt_eval.options import DataOptions, OutputOptions, PredictionsOptions

DOC = Path(__file__).parents[2] / "docs" / "metrics.md"
# the demo's defaults (padt_eval/demo/run.py run_demo, generate): its val2017 world is seed + 1
N_IMAGES, SEED = 50, 0


def _quoted() -> dict[str, float]:
    text = " ".join(DOC.read_text().split())
    m = re.search(
        r"on the demo's OVD run as `padt-eval demo` makes it by default \((\d+) images, seed (\d+): (\d+) GT, (\d+) scored "
        r"detections\) both give AP50 ([\d.]+) and dAP Cls ([\d.]+), Bkg ([\d.]+), Loc/Both/Dupe 0; Miss differs, "
        r"[\d.]+ \(tidecv\) against ([\d.]+)",
        text,
    )
    assert m, "docs/metrics.md no longer has the demo's TIDE paragraph in the form this test reads"
    keys = ("n_images", "seed", "n_gt", "n_scored", "ap50", "classification", "background", "missed")
    return dict(zip(keys, map(float, m.groups()), strict=True))


def test_the_docs_tide_figures_are_the_demos(tmp_path):
    quoted = _quoted()
    assert (quoted["n_images"], quoted["seed"]) == (N_IMAGES, SEED)
    paths = DemoPaths(tmp_path)
    val = as_val2017(make_world(N_IMAGES, seed=SEED + 1, first_image_id=1000))
    write_images(val, paths.val2017)
    write_coco_instances(val, paths.coco_instances)
    make_ovd_predictions(val, paths.coco_instances, paths.task_predictions(Task.OVD), seed=SEED)
    result = api.score(
        Task.OVD,
        "coco_val2017",
        PredictionsOptions(paths.task_predictions(Task.OVD)),
        data=DataOptions(data_root=paths.data),
        output=OutputOptions(tmp_path / "run", "demo-A"),
    )
    doc = json.loads((Path(result.out_dir) / "metrics.json").read_text())
    tide = doc["errors"]
    assert doc["counts"]["n_gt"] == quoted["n_gt"] and doc["counts"]["n_dets_scored"] == quoted["n_scored"]
    assert round(100 * tide["ap50"], 3) == quoted["ap50"]
    for kind in ("classification", "background", "missed"):
        assert round(100 * tide["dap"][kind], 3) == quoted[kind], kind
    assert all(tide["dap"][k] == 0 for k in ("localization", "both", "duplicate"))
