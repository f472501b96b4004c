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

from padt_eval.core.tagpairs import sub_pairs

_END_TOKENS = re.compile(r"<\|im_end\|>|<\|endoftext\|>|</s>|<s>|<pad>|<\|im_start\|>(?:assistant)?|</?answer>")
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
_FENCE = "```"
# Pairs found with `tagpairs` (linear); `OPEN(.*?)CLOSE` expressions were quadratic on
# text that opens many times and never closes.
_KEEP_PHRASE = [("<|object_ref_start|>", "<|object_ref_end|>"), ("<ref>", "</ref>"), ("<phrase>", "</phrase>"), ("<p>", "</p>")]
_REMOVE_PAIRS = [
    ("<|box_start|>", "<|box_end|>"),
    ("<|quad_start|>", "<|quad_end|>"),
    ("<box>", "</box>"),
    ("<object>", "</object>"),
]
_REMOVE = [
    re.compile(r"\{\s*(?:<\d+>\s*)+\}"),  # MiniGPT-v2 {<x1><y1><x2><y2>}
    re.compile(r"<patch_index_\d+>|</?grounding>|</delimiter_of_multi_objects/>|<delim>|<loc_\d+>"),
    re.compile(r"<\|VRT_\d+\|>|<\|Obj_\d+\|>"),
    re.compile(r"<\|(?:box|quad|object_ref)_(?:start|end)\|>|</?(?:ref|box|phrase|object|p)>"),  # unpaired leftovers
]
_NUM = r"-?\d+(?:\.\d+)?"
_COORD_BODY = re.compile(rf"\s*{_NUM}(?:\s*[,;]\s*{_NUM}){{3,}}\s*")  # a coordinate list, between [ ]
_CLOSING = {"(": ")", "[": "]", "{": "}"}
_WHITESPACE_RUN = re.compile(r"(\s)\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_REPEATED_COMMA = re.compile(r",(?:\s*,)+")
_SPACES = re.compile(r"\s+")


_UNCLOSED = (("<|box_start|>", "<|box_end|>"), ("<|quad_start|>", "<|quad_end|>"), ("<box>", "</box>"), ("<object>", "</object>"))
_TAIL_COORDS = re.compile(r"[(\[]\s*\[?\s*(?:-?\d+(?:\.\d*)?\s*[,;]\s*)*-?\d*(?:\.\d*)?\s*\Z")
_TAIL_MINIGPT = re.compile(r"\{\s*(?:<\d+>\s*)*(?:<\d*)?\s*\Z")


def _squeeze(text: str) -> str:
    """Each run of whitespace cut to its first character. Every rule here reads
    whitespace as `\\s*` and the result is collapsed anyway, so nothing changes, except
    that a rule scanning a long run from each of its characters (`\\s*X`) is no longer
    quadratic in the run's length."""
    return _WHITESPACE_RUN.sub(r"\1", text)


def _only_separators(s: str) -> bool:
    return all(c in ",;" or c.isspace() for c in s)


def _drop_brackets(text: str) -> str:
    """Rules 5 and 6 in one pass: a `[…]` holding a coordinate list becomes a space, and
    a `()`, `[]` or `{}` holding only separators is removed with the whitespace before
    it, innermost first, so `[[1,2,3,4]]` and `( [1, 2, 3, 4])` leave nothing. The same
    result as applying both substitutions until nothing changes, without one pass per
    level of nesting (quadratic on `[[[[…]]]]`).

    A bracket's content is examined once, when it closes, and only while it holds nothing
    but digits, signs, points, separators and whitespace (`clean`): so each character is
    examined at most once, by its innermost bracket."""
    out: list[str] = []
    # [opening, its index in out, where the whitespace before it starts, content still clean]
    stack: list[list] = []
    run = 0  # where the whitespace at the end of out starts (len(out): none)
    for ch in text:
        if ch in _CLOSING:
            stack.append([ch, len(out), run, True])
            out.append(ch)
            run = len(out)
        elif stack and ch == _CLOSING[stack[-1][0]]:
            opening, at, ws, clean = stack.pop()
            content = "".join(out[at + 1 :]) if clean else ""
            if clean and _only_separators(content):
                del out[ws:]
                run = len(out)  # out[ws - 1] is not whitespace
            elif clean and opening == "[" and _COORD_BODY.fullmatch(content):
                del out[at:]
                out.append(" ")
                run = ws  # out[ws:at] was whitespace already
            else:
                out.append(ch)
                run = len(out)
                if stack:
                    stack[-1][3] = False  # the parent holds a bracket that stays
        else:
            if not ch.isspace():
                run = len(out) + 1
            out.append(ch)
            if stack and stack[-1][3] and not _numberish(ch):
                stack[-1][3] = False
    return "".join(out)


def _numberish(ch: str) -> bool:
    return ch in ",;.-" or ch.isspace() or ch.isdecimal()


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
    except (json.JSONDecodeError, ValueError, RecursionError):  # RecursionError: `[[[[…` nested deeper than json allows
        return None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(o, dict) and ("bbox_2d" in o or "bbox" in o or "point_2d" in o) for o in items):
        return None
    return ", ".join(
        str(o.get("label") or o.get("description") or "").strip() for o in items if o.get("label") or o.get("description")
    )


def _fences(text: str):
    """(start, end, body) of each ```` ```json … ``` ```` fence: the matches of
    ```` ```(?:json)?\\s*(.*?)\\s*``` ```` (DOTALL), found in linear time."""
    pos = 0
    while True:
        s = text.find(_FENCE, pos)
        if s < 0:
            return
        body = s + 3 + (4 if text.startswith("json", s + 3) else 0)
        e = text.find(_FENCE, body)
        if e < 0:
            return
        yield s, e + 3, text[body:e].strip()
        pos = e + 3


def _replace_json(text: str) -> str:
    out, last = [], 0
    for s, e, body in _fences(text):
        labels = _json_labels(body)
        out += [text[last:s], labels if labels is not None else body]
        last = e
    if out:
        text = "".join(out) + text[last:]
    labels = _json_labels(text.strip())
    return labels if labels is not None else text


def clean_caption(text: str | None) -> str:
    """The words of a grounded caption, every family's box markup removed (see module doc)."""
    if not text:
        return ""
    text = _THINK.sub(" ", text)
    text = _squeeze(_END_TOKENS.sub(" ", text))
    text = _drop_cut_off_box(text.rstrip())
    text = _replace_json(text)
    for opening, closing in _KEEP_PHRASE:
        text = sub_pairs(text, opening, closing, lambda inner: inner)
    for opening, closing in _REMOVE_PAIRS:
        text = sub_pairs(text, opening, closing, lambda inner: " ")
    for pat in _REMOVE:
        text = pat.sub(" ", text)
    text = _drop_brackets(_squeeze(text))
    text = _SPACES.sub(" ", text)
    text = _REPEATED_COMMA.sub(",", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text.strip(" ,;")
