"""Run the authors' `tidecv` 1.0.1 beside padt-eval's TIDE (not collected by pytest).

tidecv imports opencv, matplotlib, seaborn and appdirs for its plots; they are replaced by
stubs, so only its matching, error and AP code runs. Usage, with the wheel unpacked in DIR:

    PYTHONPATH=.:DIR python tests/metrics/crosscheck_tidecv.py [OVD_RUN_DIR DATA_ROOT]

Without an argument: test_tide.py's hand-built case; with two: that OVD run's
predictions scored again on its split under DATA_ROOT (e.g. the demo's
`ovd-coco_val2017-perturbed_ground_truth` and `<demo out>/data`). Prints tidecv's AP50 and dAPs
(AP points) beside padt-eval's; docs/metrics.md quotes them.
"""

from __future__ import annotations

import sys
from unittest import mock

for _name in ("cv2", "matplotlib", "matplotlib.pyplot", "matplotlib.lines", "seaborn", "appdirs"):
    sys.modules.setdefault(_name, mock.MagicMock())

from tidecv import TIDE  # noqa: E402
from tidecv.data import Data  # noqa: E402

from padt_eval.metrics.tide import tide_breakdown  # noqa: E402
from tests.metrics.test_tide import _images  # noqa: E402

SHORT = {
    "Cls": "classification",
    "Loc": "localization",
    "Both": "both",
    "Dupe": "duplicate",
    "Bkg": "background",
    "Miss": "missed",
}


def _run_images(run_dir: str, data_root: str) -> list[dict]:
    """The per-image records (GT and detections) of an OVD run, rebuilt from the files a
    run keeps: its predictions and its split."""
    import json
    from pathlib import Path

    from padt_eval.core.types import Prediction, Task
    from padt_eval.data.registry import open_split
    from padt_eval.scoring.predictions_file import PredictionsFile
    from padt_eval.tasks.metric import build_metric

    doc = json.loads((Path(run_dir) / "metrics.json").read_text())
    reader = open_split(doc["split"], Task.OVD, data_root=data_root, gt=doc.get("gt", "official"), require_images=False)
    preds = PredictionsFile(doc["predictions"]["file"])
    metric = build_metric(Task.OVD, doc["protocol"]["name"], reader)
    for s in reader:
        metric.update(s, preds.get(s.sample_id) or Prediction.missing(s.sample_id, "no line"))
    return sorted(metric.images, key=lambda r: int(r["sample_id"]))


def main() -> None:
    images = _run_images(sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else _images()
    gt, pred = Data("gt"), Data("pred")
    for r in images:
        for box, cls, crowd, _area, _mask in r["gt"]:
            (gt.add_ignore_region if crowd else gt.add_ground_truth)(int(r["sample_id"]), cls, box)
        for box, score, cls, _mask in r["dt"]:
            pred.add_detection(int(r["sample_id"]), cls, score, box)
    tide = TIDE()
    tide.evaluate(gt, pred, mode=TIDE.BOX)
    theirs = tide.get_main_errors()["pred"]
    ours = tide_breakdown(images)
    print(f"AP50      tidecv {list(tide.runs.values())[0].ap:7.3f}   padt-eval {100 * ours['ap50']:7.3f}")
    for short, name in SHORT.items():
        print(f"{name:15s} tidecv {theirs[short]:7.3f}   padt-eval {100 * ours['dap'][name]:7.3f}")


if __name__ == "__main__":
    main()
