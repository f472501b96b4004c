"""Prompt templates per (task, prompt key), versioned by their text.

Every prompt of the suite lives in tasks/: the PaDT prompts here (the paper's A.2, equal
to the released preprocessing code), the coordinate-text baselines' in
`tasks/baseline_prompts.py` (the paper's A.3 prompts and each family's native one). A
`PromptKey` is a model family plus, for baselines, a prompt style; a key with no table is
an error naming the known keys, never a silent "no prompt". `prompt_template_hash` makes
any change of a template visible in a manifest.
"""

from __future__ import annotations

import hashlib
import json

from padt_eval.core.errors import UsageError
from padt_eval.core.types import ModelRequest, PromptKey, Sample, Task
from padt_eval.tasks.baseline_prompts import BASELINE_PROMPTS

# PaDT (paper A.2). {expression}, {categories} are filled in by `render`.
PADT_PROMPTS: dict[Task, str] = {
    Task.REC: 'Please carefully check the image and detect the object this sentence describes: "{expression}".',
    Task.RES: 'Please carefully check the image and detect the object this sentence describes: "{expression}".',
    Task.OVD: "Please carefully check the image and detect the following objects: {categories}.",
    Task.RIC: "Please describe this image.",
    # PaDT has no generalized prompt (the paper does not evaluate gRefCOCO): the REC prompt is
    # asked, and an answer with no VRT run is its "no target" (tasks/no_target.py).
    Task.GREC: 'Please carefully check the image and detect the object this sentence describes: "{expression}".',
    Task.GRES: 'Please carefully check the image and detect the object this sentence describes: "{expression}".',
}

#: prompt key -> task -> template. Built once, here: nothing registers prompts at import.
PROMPT_TABLE: dict[PromptKey, dict[Task, str]] = {PromptKey("padt"): PADT_PROMPTS, **BASELINE_PROMPTS}


def template_for(key: PromptKey, task: Task) -> str:
    table = PROMPT_TABLE.get(key)
    if table is None:
        known = ", ".join(sorted(str(k) for k in PROMPT_TABLE))
        raise UsageError(f"no prompt templates for prompt key {str(key)!r}; known: {known}")
    if task not in table:
        raise UsageError(f"prompt key {str(key)!r} has no prompt for task {task.value!r}")
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


def prompt_template_hash(key: PromptKey, task: Task) -> str:
    return hashlib.sha256(template_for(key, task).encode("utf-8")).hexdigest()[:16]
