"""Exact parsers of the coordinate-text baselines, one per output format, chosen by name.

`FORMATS[name].parse(text, frame)` reads one family's box syntax in that family's own
coordinate frame and returns every box in original-image pixels. The format is chosen by
the model family (`--format NAME` for predictions files, the adapter for live runs), never
by the size of the numbers, and a parser only ever sees the text and the image size.
Everything here is pure Python: scoring a predictions file never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from padt_eval.core.errors import UsageError, did_you_mean
from padt_eval.models.coords import (
    cogvlm,
    ferret,
    florence2,
    groundinggpt,
    internvl,
    kosmos2,
    minigpt_v2,
    qwen2_5_vl,
    qwen2_vl,
    qwen3_vl,
    shikra,
)
from padt_eval.models.coords.common import Frame, ParseResult, TextBox

__all__ = ["FORMATS", "Frame", "ParseResult", "TextBox", "TextFormat", "get_format"]


@dataclass(frozen=True)
class TextFormat:
    """One family's coordinate text: how it looks, its frame, and its parser."""

    name: str
    syntax: str
    frame: str
    parse: Callable[[str, Frame], ParseResult]
    needs_input_size: bool = False  # the frame is the resized model input (Qwen2.5-VL)
    parse_masks: Callable[[str, Frame], ParseResult] | None = None  # RES output as polygons


FORMATS: dict[str, TextFormat] = {
    f.name: f
    for f in [
        TextFormat(
            "qwen2_5_vl",
            '```json [{"bbox_2d": [x1, y1, x2, y2], "label": "…"}] ```',
            "pixels of the smart_resize'd input (w', h'): x·W/w', y·H/h'",
            qwen2_5_vl.parse,
            needs_input_size=True,
        ),
        TextFormat(
            "vlm_r1",
            '<think>…</think><answer>{"bbox_2d": [x1, y1, x2, y2], …}</answer>',
            "as qwen2_5_vl; the <answer> tag is required",
            qwen2_5_vl.parse_vlm_r1,
            needs_input_size=True,
        ),
        TextFormat("qwen3_vl", '[{"bbox_2d": [x1, y1, x2, y2], "label": "…"}]', "relative 0-1000: v/1000·W", qwen3_vl.parse),
        TextFormat(
            "qwen2_vl",
            "<|object_ref_start|>…<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>",
            "relative 0-1000: v/1000·W",
            qwen2_vl.parse,
        ),
        TextFormat("internvl", "<ref>…</ref><box>[[x1, y1, x2, y2]]</box>", "relative 0-1000: v/1000·W", internvl.parse),
        TextFormat(
            "shikra",
            "Answer: [0.312,0.406,0.555,0.781] .",
            "0-1 of the expand2square padded square S=max(W,H): v·S − pad",
            shikra.parse,
        ),
        TextFormat(
            "groundinggpt",
            "[0.312, 0.406, 0.555, 0.781]",
            "0-1 of the expand2square padded square S=max(W,H), GroundingGPT's rounding: round((round(v·S) − pad) / W, 3) · W",
            groundinggpt.parse,
        ),
        TextFormat("minigpt_v2", "<p>…</p> {<x1><y1><x2><y2>}<delim>{…}", "integers 0-100: v/100·W", minigpt_v2.parse),
        TextFormat(
            "kosmos2",
            "<phrase>…</phrase><object><patch_index_0389><patch_index_0758></object>",
            "32x32 cells: cell centres, or full cells when the corners share a row or column",
            kosmos2.parse,
        ),
        TextFormat(
            "florence2",
            "…<loc_312><loc_406><loc_555><loc_781>",
            "1000 bins: (bin+0.5)·W/1000",
            florence2.parse,
            parse_masks=florence2.parse_polygons,
        ),
        TextFormat(
            "ferret",
            "… [312, 406, 555, 781]",
            "virtual 1000x1000 image: int(v·(W·1.0/1000)), truncated in the order of Ferret's scorer",
            ferret.parse,
        ),
        TextFormat("cogvlm", "…[[086,540,400,760;…]]", "relative x1000, zero-padded 0-999: v/1000·W", cogvlm.parse),
    ]
}


def get_format(name: str) -> TextFormat:
    if name not in FORMATS:
        raise UsageError(f"unknown --format {name!r}{did_you_mean(name, FORMATS)}; known formats: {', '.join(FORMATS)}")
    return FORMATS[name]
