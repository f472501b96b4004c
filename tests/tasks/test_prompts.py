"""tasks/prompts.py and tasks/baseline_prompts.py: the prompt of every (family, style, task).

The expected texts come from the documents, not from the code: PaDT's own prompts and the
paper-style baseline prompts from docs/reference/padt_paper_protocol.md (paper A.2, A.3),
the native ones from the table in docs/baselines.md that users read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import string
from pathlib import Path

import pytest

from padt_eval.core.errors import UsageError
from padt_eval.core.types import GroundTruthObject, ImageRef, PromptKey, Sample, Task
from padt_eval.tasks import prompts
from padt_eval.tasks.prompts import PROMPT_TABLE, prompt_template_hash, render, template_for
from padt_eval.tasks.registry import get_task

DOCS = Path(__file__).resolve().parents[2] / "docs"
PLACEHOLDERS = {"expression", "categories", "category_names"}
REFERRING = (Task.REC, Task.RES, Task.GREC, Task.GRES)
CATEGORIES = ["person", "traffic light"]


def _sample(task: Task, expression: str = 'the "left" dog', **truth) -> Sample:
    return Sample(
        "s1",
        task,
        ImageRef("x.png", 8, 6),
        expression=expression if task in REFERRING else None,
        categories=list(CATEGORIES) if task == Task.OVD else None,
        **truth,
    )


def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def _filled(doc_prompt: str, task: Task) -> str:
    """A prompt as the paper writes it, with our sample's values put in by hand."""
    out = doc_prompt.replace("[{target list}]", json.dumps(CATEGORIES))
    for name in ("{sentence}", "{question}"):
        out = out.replace(name, 'the "left" dog')
    return out


def test_padt_prompts_are_the_paper_a2_prompts():
    doc = (DOCS / "reference" / "padt_paper_protocol.md").read_text(encoding="utf-8")
    table = _section(doc, "**PaDT prompts** (paper A.2)", "**OVD category list.**")
    rows = dict(re.findall(r"^\| (OVD|REC / RES|RIC) \| `([^`]+)`", table, flags=re.M))
    assert set(rows) == {"OVD", "REC / RES", "RIC"}
    by_task = {Task.OVD: rows["OVD"], Task.REC: rows["REC / RES"], Task.RES: rows["REC / RES"], Task.RIC: rows["RIC"]}
    for task, doc_prompt in by_task.items():
        assert get_task(task).prompt(PromptKey("padt"), _sample(task)) == _filled(doc_prompt, task), task
    # no generalized prompt in the paper: GREC/GRES ask PaDT's REC question
    for task in (Task.GREC, Task.GRES):
        assert get_task(task).prompt(PromptKey("padt"), _sample(task)) == _filled(rows["REC / RES"], task)


def test_paper_style_prompts_are_the_paper_a3_prompts():
    doc = (DOCS / "reference" / "padt_paper_protocol.md").read_text(encoding="utf-8")
    block = _section(doc, "**Baseline prompts** (paper A.3", "**RIC data-generation prompt**")
    rows = dict(re.findall(r"^- \*\*(OVD|REC / RES|RIC):\*\* `(.+)`$", block, flags=re.M))
    assert set(rows) == {"OVD", "REC / RES", "RIC"}
    paper_keys = [k for k in PROMPT_TABLE if k.style == "paper"]
    assert paper_keys, "no family offers the paper's prompts"
    for key in paper_keys:
        for task, name in ((Task.REC, "REC / RES"), (Task.RES, "REC / RES"), (Task.OVD, "OVD"), (Task.RIC, "RIC")):
            assert get_task(task).prompt(key, _sample(task)) == _filled(rows[name], task), (key, task)


def _doc_cells(row: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def test_native_prompts_are_the_ones_docs_baselines_shows():
    doc = (DOCS / "baselines.md").read_text(encoding="utf-8")
    table = _section(doc, "\nNative:\n", "\nR1 suffix:")
    compared = 0
    for row in table.splitlines():
        cells = _doc_cells(row) if row.startswith("| `") else []
        if len(cells) != 5:
            continue
        family = cells[0].strip("`")
        for cell, tasks in ((cells[1], (Task.REC, Task.RES)), (cells[2], (Task.OVD,)), (cells[3], (Task.RIC,))):
            literal = re.fullmatch(r"`([^`]+)`", cell)
            if literal is None:  # "paper RIC", "as `qwen2_5_vl`", "... + R1 suffix": described, not quoted
                continue
            for task in tasks:
                assert template_for(PromptKey(family, "native"), task) == literal.group(1), (family, task)
                compared += 1
    assert compared >= 15  # the table quotes most cells; a parser that finds none must not pass


@pytest.mark.parametrize("key", sorted(PROMPT_TABLE, key=str), ids=str)
def test_templates_use_only_the_model_visible_placeholders(key):
    for task, template in PROMPT_TABLE[key].items():
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        assert fields <= PLACEHOLDERS, (key, task, fields)
        if task in REFERRING:
            assert "expression" in fields, (key, task)
        if task == Task.RIC:
            assert not fields, (key, task)


@pytest.mark.parametrize("key", sorted(PROMPT_TABLE, key=str), ids=str)
def test_a_prompt_never_sees_the_ground_truth(key):
    """The prompt of a sample equals the prompt of its model request (which carries no
    ground truth), and other ground truth gives the same prompt."""
    for task in PROMPT_TABLE[key]:
        plain = _sample(task)
        truth = _sample(
            task, objects=[GroundTruthObject(bbox=[1, 2, 3, 4], label="dog")], references=["a dog"], meta={"image_id": 7}
        )
        spec = get_task(task)
        assert spec.prompt(key, truth) == spec.prompt(key, plain) == spec.prompt(key, truth.request())
        if "{expression}" in template_for(key, task):
            other = dataclasses.replace(plain, expression="the cat")
            assert spec.prompt(key, other) != spec.prompt(key, plain)


def test_ovd_category_placeholders():
    rendered = render("{categories} | {category_names}", _sample(Task.OVD))
    assert rendered == '["person", "traffic light"] | person, traffic light'


def test_the_template_hash_is_the_templates_sha256_and_follows_any_edit(monkeypatch):
    key = PromptKey("qwen2_5_vl", "native")
    text = template_for(key, Task.REC)
    assert prompt_template_hash(key, Task.REC) == hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    before = prompt_template_hash(key, Task.REC)
    monkeypatch.setitem(prompts.PROMPT_TABLE, key, {**PROMPT_TABLE[key], Task.REC: text + " "})
    assert prompt_template_hash(key, Task.REC) != before
    assert get_task(Task.REC).prompt_hash(None) is None


def test_a_key_without_the_task_is_an_error_naming_both(monkeypatch):
    key = PromptKey("somefamily", "native")
    monkeypatch.setitem(prompts.PROMPT_TABLE, key, {Task.REC: "Find {expression}"})
    assert template_for(key, Task.REC) == "Find {expression}"
    with pytest.raises(UsageError, match=r"prompt key 'somefamily:native' has no prompt for task 'ovd'"):
        template_for(key, Task.OVD)
    with pytest.raises(UsageError, match=r"no prompt templates for prompt key 'otherfamily'; known: .*padt"):
        template_for(PromptKey("otherfamily"), Task.REC)
