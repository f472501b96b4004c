"""Grounded caption → plain caption: the one function both sides of RIC caption scoring use.

A RIC answer interleaves a caption with the model's way of pointing at objects. Caption
metrics must see only the words, and they must see the same kind of words from every
model, so one function, `clean_caption`, strips every family's grounding markup:

1. end-of-turn tokens (`<|im_end|>`, `<|endoftext|>`, `</s>`, `<s>`, `<pad>`) are dropped,
   and so is reasoning: a `<think>…</think>` block (VLM-R1; to the end when unclosed) and
   the `<answer>` tags around the answer;
2. Qwen2.5-VL JSON (`{"bbox_2d": [...], "label": "a cat"}`, fenced or bare) becomes its
   label text, objects joined by ", " (a JSON answer carries no other words);
3. markup that wraps a phrase keeps the phrase: `<|object_ref_start|>p<|object_ref_end|>`
   (Qwen2-VL), `<ref>p</ref>` (InternVL), `<phrase>p</phrase>` (Kosmos-2), `<p>p</p>`
   (MiniGPT-v2);
4. markup that only locates is removed with its content: `<|box_start|>…<|box_end|>`,
   `<|quad_start|>…<|quad_end|>` (Qwen2-VL), `<box>…</box>` (InternVL),
   `<object>…</object>`, `<patch_index_N>`, `<grounding>`, `</delimiter_of_multi_objects/>`
   (Kosmos-2), `<loc_N>` (Florence-2), `{<x><y><x><y>}` and `<delim>` (MiniGPT-v2),
   `<|VRT_k|>` runs (PaDT) and `<|Obj_k|>` placeholders (PaDT's reference templates);
5. coordinate lists of four or more numbers in square brackets are removed:
   `[x1, y1, x2, y2]` (Qwen2.5-VL's RIC prompt, Ferret), `[0.1,0.2,0.3,0.4]` (Shikra),
   `[[086,540,400,760]]` and `[[…;…]]` (CogVLM), `[b1;b2]`;
6. brackets left holding only separators — the `(` `)` around a removed box, `[]`, `{}` —
   are removed with the space before them;
7. whitespace is collapsed, and a space before `. , ; : ! ?` is dropped;
8. before all that, a box the output was cut off inside (`max_new_tokens` reached) is
   removed to the end: an unclosed `<|box_start|>`, `<box>` or `<object>`, an unfinished
   `{<31><40>` or `([200, 17` / `[[0, 500` at the very end.

So `A green triangle (<|VRT_5|><|VRT_6|>) and a cat ([1, 2, 3, 4]).` becomes
`A green triangle and a cat.` Words are never altered, only markup removed; the PTB
tokenizer of the caption metrics then lower-cases and splits the result.
"""

from __future__ import annotations

import json
import re

_END_TOKENS = re.compile(r"<\|im_end\|>|<\|endoftext\|>|</s>|<s>|<pad>|<\|im_start\|>(?:assistant)?|</?answer>")
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.S)
_KEEP_PHRASE = [
    re.compile(r"<\|object_ref_start\|>(.*?)<\|object_ref_end\|>", re.S),
    re.compile(r"<ref>(.*?)</ref>", re.S),
    re.compile(r"<phrase>(.*?)</phrase>", re.S),
    re.compile(r"<p>(.*?)</p>", re.S),
]
_REMOVE = [
    re.compile(r"<\|box_start\|>.*?<\|box_end\|>", re.S),
    re.compile(r"<\|quad_start\|>.*?<\|quad_end\|>", re.S),
    re.compile(r"<box>.*?</box>", re.S),
    re.compile(r"<object>.*?</object>", re.S),
    re.compile(r"\{\s*(?:<\d+>\s*)+\}"),  # MiniGPT-v2 {<x1><y1><x2><y2>}
    re.compile(r"<patch_index_\d+>|</?grounding>|</delimiter_of_multi_objects/>|<delim>|<loc_\d+>"),
    re.compile(r"<\|VRT_\d+\|>|<\|Obj_\d+\|>"),
    re.compile(r"<\|(?:box|quad|object_ref)_(?:start|end)\|>|</?(?:ref|box|phrase|object|p)>"),  # unpaired leftovers
]
_NUM = r"-?\d+(?:\.\d+)?"
_COORD_LIST = re.compile(rf"\[\s*{_NUM}(?:\s*[,;]\s*{_NUM}){{3,}}\s*\]")
_EMPTY_BRACKETS = re.compile(r"\s*(?:\(\s*[,;\s]*\)|\[\s*[,;\s]*\]|\{\s*[,;\s]*\})")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_REPEATED_COMMA = re.compile(r",(?:\s*,)+")
_SPACES = re.compile(r"\s+")


_UNCLOSED = (("<|box_start|>", "<|box_end|>"), ("<|quad_start|>", "<|quad_end|>"), ("<box>", "</box>"), ("<object>", "</object>"))
_TAIL_COORDS = re.compile(r"[(\[]\s*\[?\s*(?:-?\d+(?:\.\d*)?\s*[,;]\s*)*-?\d*(?:\.\d*)?\s*\Z")
_TAIL_MINIGPT = re.compile(r"\{\s*(?:<\d+>\s*)*(?:<\d*)?\s*\Z")


def _drop_cut_off_box(text: str) -> str:
    """Remove a box the text ends inside (rule 8)."""
    for opening, closing in _UNCLOSED:
        i = text.rfind(opening)
        if i >= 0 and text.find(closing, i) < 0:
            text = text[:i]
    text = _TAIL_MINIGPT.sub("", text)
    return _TAIL_COORDS.sub("", text)


def _json_labels(text: str) -> str | None:
    """If `text` is a Qwen-style JSON list/object of boxes, their labels joined by ", "."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(o, dict) and ("bbox_2d" in o or "bbox" in o or "point_2d" in o) for o in items):
        return None
    return ", ".join(
        str(o.get("label") or o.get("description") or "").strip() for o in items if o.get("label") or o.get("description")
    )


def _replace_json(text: str) -> str:
    def fenced(m: re.Match) -> str:
        labels = _json_labels(m.group(1))
        return labels if labels is not None else m.group(1)

    text = _FENCE.sub(fenced, text)
    labels = _json_labels(text.strip())
    return labels if labels is not None else text


def clean_caption(text: str | None) -> str:
    """The words of a grounded caption, every family's box markup removed (see module doc)."""
    if not text:
        return ""
    text = _THINK.sub(" ", text)
    text = _END_TOKENS.sub(" ", text)
    text = _drop_cut_off_box(text.rstrip())
    text = _replace_json(text)
    for pat in _KEEP_PHRASE:
        text = pat.sub(lambda m: m.group(1), text)
    for pat in _REMOVE:
        text = pat.sub(" ", text)
    text = _COORD_LIST.sub(" ", text)
    previous = None
    while previous != text:  # nested: "[[1,2,3,4]]" leaves "[ ]", which leaves nothing
        previous = text
        text = _EMPTY_BRACKETS.sub("", text)
        text = _COORD_LIST.sub(" ", text)
    text = _SPACES.sub(" ", text)
    text = _REPEATED_COMMA.sub(",", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text.strip(" ,;")
