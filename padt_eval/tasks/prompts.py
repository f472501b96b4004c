"""Prompt templates per (task, model family), versioned by their text.

The PaDT prompts are the paper's (A.2) and equal the released preprocessing code; the
"paper_a3" baseline prompts are those the PaDT authors used for Qwen2.5-VL and InternVL3
(A.3). Families with their own documented grounding prompt register it in their module
under their family name; `prompt_template_hash` makes any change visible in a manifest.
"""

from __future__ import annotations

import hashlib
import json

from padt_eval.core.errors import UsageError
from padt_eval.core.types import ModelRequest, Sample, Task

# PaDT (paper A.2). {expression}, {categories} are filled in by `render`.
PADT_PROMPTS: dict[Task, str] = {
    Task.REC: 'Please carefully check the image and detect the object this sentence describes: "{expression}".',
    Task.RES: 'Please carefully check the image and detect the object this sentence describes: "{expression}".',
    Task.OVD: "Please carefully check the image and detect the following objects: {categories}.",
    Task.RIC: "Please describe this image.",
}

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

# family -> task -> template. Baseline modules add their own documented prompts here.
PROMPT_TABLE: dict[str, dict[Task, str]] = {
    "padt": PADT_PROMPTS,
    "paper_a3": PAPER_A3_PROMPTS,
}


def register_prompts(family: str, templates: dict[Task, str]) -> None:
    PROMPT_TABLE[family] = dict(templates)


def template_for(family: str, task: Task) -> str:
    table = PROMPT_TABLE.get(family)
    if table is None:
        raise UsageError(f"no prompt templates for model family {family!r}; known: {', '.join(sorted(PROMPT_TABLE))}")
    if task not in table:
        raise UsageError(f"model family {family!r} has no prompt for task {task.value!r}")
    return table[task]


def render(template: str, sample: Sample | ModelRequest) -> str:
    """Fill a template from the model-visible fields of a sample.

    The OVD list is `json.dumps` of the names, as PaDT's preprocessing writes it
    (`["person", "bicycle", ...]`); `{category_names}` is the same names joined by ", "
    (Qwen3-VL's ODinW prompt).
    """
    categories = json.dumps(list(sample.categories)) if sample.categories is not None else ""
    names = ", ".join(sample.categories) if sample.categories is not None else ""
    return template.format(expression=sample.expression or "", categories=categories, category_names=names)


def prompt_template_hash(family: str, task: Task) -> str:
    return hashlib.sha256(template_for(family, task).encode("utf-8")).hexdigest()[:16]
