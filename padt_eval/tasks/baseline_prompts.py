"""Prompts of the coordinate-text baselines, per family and prompt style.

Two styles (`--prompt-style`):
* `paper`: the prompts the PaDT authors used for their Qwen2.5-VL and InternVL3 baselines
  (paper A.3, `PAPER_A3_PROMPTS`); offered to the families that answer in that JSON
  syntax (Qwen2.5-VL, Qwen3-VL, InternVL). Which style a family takes by default is the
  family's own setting (`default_prompt_style` of its entry, models/coords/families.py).
* `native`: each model's own documented grounding prompt (baselines.md, "Prompts").
  Where a family documents none for a task, the prompt is ours and says so in
  `NATIVE_SOURCES`; the manifest records the prompt hash either way.

Placeholders: `{expression}` (REC/RES), `{categories}` (OVD, a JSON list as in PaDT),
`{category_names}` (OVD, names joined by ", ").
"""

from __future__ import annotations

from padt_eval.core.types import PromptKey, Task
from padt_eval.models.coords.registry import paper_style_families

# Coordinate-text baselines as prompted in the PaDT paper (A.3).
PAPER_A3_PROMPTS: dict[Task, str] = {
    Task.REC: (
        'Please carefully check the image and detect the object this sentence describes: "{expression}". '
        "Output the final answer in JSON format."
    ),
    Task.RES: (
        'Please carefully check the image and detect the object this sentence describes: "{expression}". '
        "Output the final answer in JSON format."
    ),
    Task.OVD: (
        "Please carefully check the image and detect the following objects: {categories}. "
        "Output each detected target's bbox coordinates in JSON format. For example, "
        '```json [{{"bbox_2d": [x1, y1, x2, y2], "label": "target name"}}] ```. '
        "If no targets are detected in the image, simply respond with None."
    ),
    Task.RIC: (
        "Please describe this image. You should include the corresponding bounding box of the objects "
        'within the sentence. For example, "In this image, a cat ([x1, y1, x2, y2]) is sitting on the '
        'wooden table ([x1, y1, x2, y2]), ...".'
    ),
}

# Generalized REC/RES (gRefCOCO): the paper has no prompt for them. Ours: A.3's OVD prompt
# (a JSON list of boxes, "respond with None" when nothing is there) around A.3's REC sentence.
_PAPER_GENERALIZED = (
    'Please carefully check the image and detect every object this sentence describes: "{expression}". '
    "Output each detected target's bbox coordinates in JSON format. For example, "
    '```json [{{"bbox_2d": [x1, y1, x2, y2], "label": "target name"}}] ```. '
    "If no targets are detected in the image, simply respond with None."
)
PAPER_A3_PROMPTS[Task.GREC] = _PAPER_GENERALIZED
PAPER_A3_PROMPTS[Task.GRES] = _PAPER_GENERALIZED

R1_SUFFIX = (
    " First output the thinking process in <think> </think> tags and then output the final answer in "
    "<answer> </answer> tags. Output the final answer in JSON format."
)
QWEN3_OVD = (
    "Locate every instance that belongs to the following categories: '{category_names}'. Report bbox coordinates in JSON format."
)


def _same(rec: str, ovd: str, ric: str, generalized: str | None = None) -> dict[Task, str]:
    """One family's table; GREC/GRES ask `generalized`, else the REC prompt (GENERALIZED_SOURCES)."""
    g = generalized or rec
    return {Task.REC: rec, Task.RES: rec, Task.OVD: ovd, Task.RIC: ric, Task.GREC: g, Task.GRES: g}


NATIVE: dict[str, dict[Task, str]] = {
    "qwen2_5_vl": _same(
        "Locate {expression}, output its bbox coordinates using JSON format.",
        QWEN3_OVD,
        PAPER_A3_PROMPTS[Task.RIC],
        "Locate every {expression}, output their bbox coordinates using JSON format.",
    ),
    "vlm_r1": _same(
        "Please provide the bounding box coordinate of the region this sentence describes: {expression}." + R1_SUFFIX,
        "Please carefully check the image and detect the following objects: {categories}." + R1_SUFFIX,
        PAPER_A3_PROMPTS[Task.RIC] + R1_SUFFIX.replace(" Output the final answer in JSON format.", ""),
    ),
    "qwen3_vl": _same(
        'Locate every object that matches the description "{expression}" in the image. Report bbox coordinates in JSON format.',
        QWEN3_OVD,
        PAPER_A3_PROMPTS[Task.RIC],
    ),
    "qwen2_vl": _same(
        "Find <|object_ref_start|>{expression}<|object_ref_end|>",
        "Find every instance of the following categories and output the bounding box of each: {category_names}",
        "Describe this image, and output the bounding box of every object you mention.",
    ),
    "internvl": _same(
        "Please provide the bounding box coordinate of the region this sentence describes: <ref>{expression}</ref>",
        "Please detect every instance of the following categories and write each as <ref>category</ref><box>[[x1, y1, x2, y2]]</box>: {category_names}.",
        "Please describe this image, and write each object you mention as <ref>object</ref><box>[[x1, y1, x2, y2]]</box>.",
    ),
    "kosmos2": _same("<grounding><phrase>{expression}</phrase>", "<grounding>An image of", "<grounding>An image of"),
    "florence2": {
        Task.REC: "<CAPTION_TO_PHRASE_GROUNDING>{expression}",
        Task.RES: "<REFERRING_EXPRESSION_SEGMENTATION>{expression}",
        Task.OVD: "<OD>",
        Task.RIC: "<DETAILED_CAPTION>",  # then <CAPTION_TO_PHRASE_GROUNDING> on that caption (adapter)
        Task.GREC: "<CAPTION_TO_PHRASE_GROUNDING>{expression}",
        Task.GRES: "<REFERRING_EXPRESSION_SEGMENTATION>{expression}",
    },
}

# Where each native prompt comes from (docs/baselines.md shows this table).
NATIVE_SOURCES: dict[str, str] = {
    "qwen2_5_vl": "REC: Qwen2.5-VL cookbook grounding prompt; OVD: Qwen3-VL ODinW prompt (ours for 2.5); RIC: PaDT A.3 (no native one)",
    "vlm_r1": "REC: VLM-R1 test_rec_r1.py (question + think/answer suffix); OVD, RIC: PaDT A.3 head + the same suffix (ours)",
    "qwen3_vl": "REC: Qwen3-VL grounding prompt (as in lmms-eval refcoco_grounding); OVD: Qwen3-VL ODinW-13 eval; RIC: PaDT A.3",
    "qwen2_vl": "REC: the common '<|object_ref_start|>' form (docs/reference/baselines.md §2.4, inferred); OVD, RIC: ours",
    "internvl": "REC: InternVL evaluate_grounding.py; OVD, RIC: ours, in InternVL's <ref>/<box> syntax",
    "kosmos2": "REC: unilm kosmos-2 refcoco cook_data.py; RIC: the Kosmos-2 model card's grounded caption; OVD: the same grounded caption (no detection prompt)",
    "florence2": "Florence-2 task tokens: grounding, referring segmentation, <OD>; RIC: <DETAILED_CAPTION> then <CAPTION_TO_PHRASE_GROUNDING> of it",
}

# Where each family's GREC/GRES prompt comes from (docs/benchmarks.md shows this table).
# None of these families documents a generalized-referring prompt.
GENERALIZED_SOURCES: dict[str, str] = {
    "paper": "ours: PaDT A.3's OVD prompt (JSON list, 'respond with None') around A.3's REC sentence",
    "qwen2_5_vl": "ours: the cookbook's REC prompt in the plural ('Locate every ...')",
    "qwen3_vl": "the REC prompt, which already asks for every matching object",
    "florence2": "its task tokens: <CAPTION_TO_PHRASE_GROUNDING> (GREC), <REFERRING_EXPRESSION_SEGMENTATION> (GRES)",
    **{f: "the REC prompt (no generalized prompt documented)" for f in ("vlm_r1", "qwen2_vl", "internvl", "kosmos2")},
}

#: The families whose entry offers the paper prompts (models/coords/families.py says which).
PAPER_FAMILIES = paper_style_families()

#: Every baseline prompt table, by prompt key. A family with a loader offers exactly the
#: styles listed here for it (tests/models/hf/test_adapter_units.py holds the two together).
BASELINE_PROMPTS: dict[PromptKey, dict[Task, str]] = {
    **{PromptKey(family, "native"): table for family, table in NATIVE.items()},
    **{PromptKey(family, "paper"): PAPER_A3_PROMPTS for family in PAPER_FAMILIES},
}
