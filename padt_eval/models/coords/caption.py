"""A clean caption from a grounded answer: the text with its box syntax taken out.

Each parser reports the character spans of its family's box syntax (coordinates, brackets,
`<ref>`/`<phrase>`/`<p>` tags, `<loc_>`/`<patch_index_>` tokens, end-of-text tokens). The
caption is the text with those spans removed and its spacing and punctuation tidied, so
`In this image, a cat ([10, 20, 30, 40]) sits on the table ([1, 2, 3, 4]).` becomes
`In this image, a cat sits on the table.`
"""

from __future__ import annotations

import re
from typing import Iterable

_EMPTY_BRACKETS = re.compile(r"\(\s*[,;]?\s*\)|\[\s*[,;]?\s*\]|\{\s*\}")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_REPEATED_COMMA = re.compile(r",\s*,+")


def remove_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with every span replaced by one space (overlapping spans are merged)."""
    out: list[str] = []
    pos = 0
    for s, e in sorted(spans):
        if e <= pos:
            continue
        s = max(s, pos)
        out.append(text[pos:s])
        out.append(" ")
        pos = e
    out.append(text[pos:])
    return "".join(out)


def tidy(text: str) -> str:
    """Collapse spaces, drop brackets left empty, no space before punctuation."""
    prev = None
    while prev != text:
        prev = text
        text = _EMPTY_BRACKETS.sub(" ", text)
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _REPEATED_COMMA.sub(",", text)
    return text.strip()


def clean_caption(text: str, markup: Iterable[tuple[int, int]]) -> str:
    return tidy(remove_spans(text, markup))
