"""What the leaderboard's task tables show: splits, metric columns, units, protocol notes."""

from __future__ import annotations

from dataclasses import dataclass

from padt_eval.data.split_table import SPLITS

#: The 8 RefCOCO-family splits the papers report, in their column order: the REC/RES Mean
#: averages exactly these (the captions say 8). Written out, not read from the split table:
#: a split added there (docs/extending.md) gets its own column but leaves the Mean alone.
STANDARD_SPLITS = [
    "refcoco_val",
    "refcoco_testA",
    "refcoco_testB",
    "refcoco+_val",
    "refcoco+_testA",
    "refcoco+_testB",
    "refcocog_val",
    "refcocog_test",
]
SPLIT_LABELS = {
    "refcoco_val": "RC val",
    "refcoco_testA": "RC testA",
    "refcoco_testB": "RC testB",
    "refcoco+_val": "RC+ val",
    "refcoco+_testA": "RC+ testA",
    "refcoco+_testB": "RC+ testB",
    "refcocog_val": "RCg val",
    "refcocog_test": "RCg test",
    "refcoco_m_val": "RC-M val",
    "reasonseg_val": "val",
    "reasonseg_test": "test",
    "reasonseg_test_short": "test short",
    "reasonseg_test_long": "test long",
}
PROTOCOL_ORDER = {"standard": 0, "padt-release": 1, "official": 1}
#: A metric key naming a share of metrics.json `errors` rather than a headline metric.
ERRORS_PREFIX = "errors."


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    scale: float = 100.0  # metrics.json fraction → display unit
    decimals: int = 1
    aliases: tuple[str, ...] = ()


@dataclass
class TaskTable:
    task: str
    title: str
    caption: str
    metrics: list[MetricSpec]
    per_split: bool  # one column group per split (REC/RES) or one split per row (OVD/RIC)
    mean: bool = False
    name: str | None = None  # the table's id when it is not the task's (a second table of one task)
    errors_only: bool = False  # rows only from runs with an error breakdown; no reported rows
    # the splits whose runs it shows: those of one benchmark scorer (`SplitSpec.scorer`, e.g.
    # "ref_l4"); None: the splits no benchmark scorer claims (a benchmark gets its own table)
    scorer: str | None = None
    # and of one dataset of the split table (`SplitSpec.dataset`): a benchmark scored by the
    # task's own metric that still gets its own table (RefCOCO-M); the task's general table
    # leaves that dataset's splits out. None: every dataset no other table of the task claims
    dataset: str | None = None
    # a per-split table's split columns, in order (None: the 8 standard splits); splits of
    # runs beyond them get columns after them
    splits: tuple[str, ...] | None = None

    def shows(self, split: str) -> bool:
        spec = SPLITS.get(split)
        if (spec.scorer if spec is not None else None) != self.scorer:
            return False
        dataset = spec.dataset if spec is not None else None
        if self.dataset is not None:
            return dataset == self.dataset
        return dataset not in {t.dataset for t in TASK_TABLES if t.task == self.task and t.dataset is not None}


TASK_TABLES = [
    TaskTable(
        "rec",
        "REC: Acc@0.5 (%)",
        "Acc@0.5 = share of expressions whose box has IoU >= 0.5 with the ground truth. Mean = macro average over the "
        "8 standard splits (each split weighs the same, whatever its size), shown only for rows with all 8; reported rows "
        "show the paper's printed Overall.",
        [MetricSpec("acc@0.5", "Acc@0.5")],
        per_split=True,
        mean=True,
    ),
    TaskTable(
        "res",
        "RES: cIoU and mIoU (%)",
        "cIoU = Σ intersection / Σ union over the split; mIoU = mean per-sample IoU. Under --protocol padt-release the "
        "'cIoU' column holds what the PaDT release prints under that name (a mean of per-sample IoUs). Mean = macro "
        "average over the 8 splits, rows with all 8 only.",
        [MetricSpec("ciou", "cIoU"), MetricSpec("miou", "mIoU")],
        per_split=True,
        mean=True,
    ),
    TaskTable(
        "rec",
        "REC: why the misses happened (% of samples)",
        "Shares of an error breakdown's categories (docs/metrics.md): wrong object = IoU < 0.5 with the target but "
        ">= 0.5 with another annotated object of the image; localization = 0.1 <= IoU < 0.5 with the target, not a "
        "wrong object. Standard protocol only. An empty wrong-object cell: not computed (the split had no instances "
        "file, e.g. the PaDT JSONL layout without COCO's instances_train2014.json).",
        [MetricSpec(ERRORS_PREFIX + "wrong_object", "wrong obj"), MetricSpec(ERRORS_PREFIX + "localization", "loc")],
        per_split=True,
        name="rec_errors",
        errors_only=True,
    ),
    TaskTable(
        "ovd",
        "OVD: COCO box AP / AR (%)",
        "The 12 COCOeval bbox statistics (AP over IoU .50:.95 unless named; ARn = AR with at most n detections). AR@50 "
        "and AR@75 (AR at IoU .50 / .75) are PaDT Table 3's extra columns, which COCOeval's summary does not print; its "
        "AR@[50:95] is shown as AR100. A model without scores gets 1.0 per detection: see Scores.",
        [
            MetricSpec("ap", "AP"),
            MetricSpec("ap50", "AP50"),
            MetricSpec("ap75", "AP75"),
            MetricSpec("ap_small", "APs", aliases=("aps",)),
            MetricSpec("ap_medium", "APm", aliases=("apm",)),
            MetricSpec("ap_large", "APl", aliases=("apl",)),
            MetricSpec("ar1", "AR1", aliases=("ar_1",)),
            MetricSpec("ar10", "AR10", aliases=("ar_10",)),
            MetricSpec("ar100", "AR100", aliases=("ar", "ar_100")),
            MetricSpec("ar_small", "ARs", aliases=("ars",)),
            MetricSpec("ar_medium", "ARm", aliases=("arm",)),
            MetricSpec("ar_large", "ARl", aliases=("arl",)),
            MetricSpec("ar50", "AR@50", aliases=("ar_50",)),
            MetricSpec("ar75", "AR@75", aliases=("ar_75",)),
        ],
        per_split=False,
    ),
    TaskTable(
        "ric",
        "RIC: captions and grounding",
        "Caption scores as fractions (CIDEr-D, METEOR, ROUGE-L, BLEU-4, pycocoevalcap); GP/GR = greedy grounding "
        "precision/recall (%). The paper defines neither GP nor GR and released no scorer: measured GP/GR use padt-eval's "
        "rule (one-to-one greedy matching at box IoU >= 0.5), so they compare with each other, not with the paper's.",
        [
            MetricSpec("cider_d", "CIDEr-D", 1.0, 3, aliases=("cider",)),
            MetricSpec("meteor", "METEOR", 1.0, 3),
            MetricSpec("rouge_l", "ROUGE-L", 1.0, 3),
            MetricSpec("bleu4", "BLEU-4", 1.0, 3, aliases=("bleu_4",)),
            MetricSpec("gp", "GP"),
            MetricSpec("gr", "GR"),
        ],
        per_split=False,
    ),
    TaskTable(
        "grec",
        "GREC (gRefCOCO): Pr@(F1=1), N-acc, T-acc (%)",
        "Pr@(F1=1) = share of expressions answered exactly (every target found at IoU >= 0.5, no extra box; a "
        "no-target expression: no box). N-acc = no-target expressions answered with no box; T-acc = target expressions "
        "answered with a box. Boxes scored below 0.7 are dropped. A model that never answers gets full N-acc: read it "
        "with Pr and T-acc. docs/benchmarks.md.",
        [MetricSpec("pr_f1", "Pr@F1=1"), MetricSpec("n_acc", "N-acc"), MetricSpec("t_acc", "T-acc")],
        per_split=False,
    ),
    TaskTable(
        "gres",
        "GRES (gRefCOCO): cIoU, gIoU, N-acc, T-acc (%)",
        "cIoU = Σ intersection / Σ union over all expressions; gIoU = mean per-expression IoU, a correctly rejected "
        "no-target expression counting 1. N-acc / T-acc as for GREC. docs/benchmarks.md.",
        [MetricSpec("ciou", "cIoU"), MetricSpec("giou", "gIoU"), MetricSpec("n_acc", "N-acc"), MetricSpec("t_acc", "T-acc")],
        per_split=False,
    ),
]

TASK_TABLES.append(
    TaskTable(
        "rec",
        "Ref-L4: accuracy by IoU, size and class (%)",
        "Ref-L4's own metrics (its evaluator, ref_l4/evaluation.py): Acc at IoU 0.5 / 0.75 / 0.9, mAcc = mean Acc over "
        "IoU 0.50:0.05:0.95; small / medium / large = sqrt(w*h) of the ground-truth box < 128, <= 256, above; cls = "
        "mean over classes. Protocol official: IoU > t (strict, float32), as Ref-L4 scores; standard: IoU >= t. "
        "Acc@0.5 (≥) = padt-eval's Acc@0.5 beside an official row. docs/benchmarks.md.",
        [
            MetricSpec("acc@0.5", "Acc@0.5"),
            MetricSpec("acc@0.75", "Acc@0.75"),
            MetricSpec("acc@0.9", "Acc@0.9"),
            MetricSpec("macc", "mAcc"),
            MetricSpec("small_macc", "mAcc small"),
            MetricSpec("medium_macc", "mAcc medium"),
            MetricSpec("large_macc", "mAcc large"),
            MetricSpec("cls_acc@0.5", "cls Acc@0.5"),
            MetricSpec("cls_macc", "cls mAcc"),
            MetricSpec("acc@0.5_padt_eval", "Acc@0.5 (≥)"),
        ],
        per_split=False,
        name="ref_l4",
        scorer="ref_l4",
    )
)

TASK_TABLES.append(
    TaskTable(
        "res",
        "ReasonSeg (LISA): gIoU and cIoU (%)",
        "Reasoning segmentation: an implicit query, one target mask; pixels of 'ignore' regions count in neither "
        "intersection nor union. Protocol official = LISA's evaluation code (dvlab-research/LISA@3cb2d43 "
        "train_ds.py validate): the first query of each image only, gIoU = mean per-image I/(U+1e-5) (+1 for an empty "
        "union), cIoU = ΣI/ΣU. Standard: every query, gIoU = padt-eval's mIoU (I/U, 0 for an empty union), cIoU = "
        "ΣI/ΣU. Reported rows come from LISA's code: compare them with official rows, not with standard ones. test "
        "short / long = the test queries with is_sentence false / true. docs/benchmarks.md.",
        [MetricSpec("giou", "gIoU", aliases=("miou",)), MetricSpec("ciou", "cIoU")],
        per_split=True,
        name="reasonseg",
        scorer="reasonseg",
        splits=("reasonseg_val", "reasonseg_test", "reasonseg_test_short", "reasonseg_test_long"),
    )
)
TASK_TABLES.append(
    TaskTable(
        "res",
        "RefCOCO-M: cIoU and mIoU (%)",
        "RefCOCO (unc) val re-segmented with pixel-accurate masks (moondream/refcoco-m): every (image, sentence) "
        "pair is one sample. cIoU = Σ intersection / Σ union; mIoU = mean per-sample IoU, the metric the dataset "
        "card defines. Scored by padt-eval's RES metric (standard protocol). Its pairing with RefCOCO val is in "
        "the label-noise table. docs/benchmarks.md.",
        [MetricSpec("ciou", "cIoU"), MetricSpec("miou", "mIoU")],
        per_split=True,
        name="refcoco_m",
        dataset="refcoco-m",
        splits=("refcoco_m_val",),
    )
)

#: Metrics shown as they are (caption scores); every other metric is a fraction shown in %.
RAW_SCALE_METRICS = {"cider_d", "cider", "meteor", "rouge_l", "spice"}


def display_scale(metric: str) -> float:
    return 1.0 if metric in RAW_SCALE_METRICS or metric.startswith("bleu") else 100.0


PROTOCOL_NOTE = {
    ("rec", "padt-release"): "padt-release: the PaDT release's eval_refcoco.py rules (best IoU over every object per "
    "image+expression key, rounded boxes); not comparable with standard rows",
    ("res", "padt-release"): "padt-release: the PaDT release's eval_refcoco.py rules (best mask IoU over every object per "
    "image+expression key; 'cIoU' is a mean of per-sample IoUs); not comparable with standard rows",
    ("grec", "official"): "official: gRefCOCO's refexp.py (greedy matching on generalized IoU, float32 scores); "
    "differs from standard on boxes with IoU >= 0.5 but GIoU < 0.5 and where greedy matching misses pairs",
    ("gres", "official"): "official: ReLA's refer_evaluation.py (fixed commit); equal to standard where both are defined",
    ("res", "official"): "official: LISA's evaluation code (ReasonSeg; first query of each image, +1 for an empty "
    "union); the protocol of the reported rows",
    ("ovd", "padt-release"): "padt-release: the PaDT release's eval_coco.py rules (PaDT's filtered ground truth; a label "
    "counts only when it is exactly a lower-cased class name); not comparable with standard rows",
}
