"""Florence-2: `phrase<loc_x1><loc_y1><loc_x2><loc_y2>`, 1000 bins per side.

Florence-2 quantises each coordinate into bins 0-999 of the original image and decodes a
bin to its centre (`CoordinatesQuantizer.dequantize`, "floor" mode, docs/reference/baselines.md §2.7):
`x_px = (bin + 0.5) · W / 1000`. We keep the float centre, as the original processor does
(transformers 5.x's port casts the result to int; that truncation is not Florence-2's).
A phrase followed by 8, 12 … locations has several boxes. `<OD>` output repeats
`label<loc…>×4`. RES output (`<REFERRING_EXPRESSION_SEGMENTATION>`) is a polygon of
`<loc_x><loc_y>` pairs, optionally split by `<sep>`; `parse_polygons` reads it as a mask.
"""

from __future__ import annotations

import re

from padt_eval.models.coords.common import Frame, ParseResult, TextBox, finish_box, make_result

_RUN = re.compile(r"(?:<loc_\d+>\s*)+")
_LOC = re.compile(r"<loc_(\d+)>")
_TAGS = re.compile(r"</?s>|<pad>|</?od>|</?ground(?:ing)?>|<obj>|</?poly>|<sep>|<and>|<unk>")


def _centre(b: int, size: int) -> float:
    return (b + 0.5) * size / 1000


def _label(text: str, start: int, floor: int) -> str | None:
    seg = _TAGS.sub(" ", text[floor:start])
    seg = " ".join(seg.split())
    return seg or None


def parse(text: str, frame: Frame) -> ParseResult:
    boxes: list[TextBox] = []
    problems: list[str] = []
    floor = 0
    for run in _RUN.finditer(text):
        locs = list(_LOC.finditer(text, run.start(), run.end()))
        label = _label(text, run.start(), floor)
        if len(locs) % 4:
            problems.append(f"{len(locs)} <loc_> tokens in a row is not a whole number of boxes; the rest was dropped")
        for k in range(0, len(locs) - len(locs) % 4, 4):
            group = locs[k : k + 4]
            bins = [int(m.group(1)) for m in group]
            if any(b > 999 for b in bins):
                problems.append("a <loc_> bin above 999")
                continue
            w, h = frame.width, frame.height
            box = finish_box(_centre(bins[0], w), _centre(bins[1], h), _centre(bins[2], w), _centre(bins[3], h), frame)
            if box is not None:
                boxes.append(TextBox(box, label, (group[0].start(), group[-1].end()), tuple(float(b) for b in bins)))
        floor = run.end()
    return make_result(boxes, problems)


def parse_polygons(text: str, frame: Frame) -> ParseResult:
    """RES output: each run of `<loc_x><loc_y>` pairs (split by `<sep>`) is one polygon; all
    polygons of a phrase form one object, whose box is the polygons' bounding box."""
    boxes: list[TextBox] = []
    problems: list[str] = []
    runs = list(re.finditer(r"(?:(?:<loc_\d+>|<sep>|</?poly>)\s*)+", text))
    floor = 0
    for run in runs:
        label = _label(text, run.start(), floor)
        polys = []
        for piece in re.split(r"<sep>|</?poly>", text[run.start() : run.end()]):
            bins = [int(b) for b in _LOC.findall(piece)]
            if any(b > 999 for b in bins):
                problems.append("a <loc_> bin above 999")
                continue
            if len(bins) % 2:
                bins = bins[:-1]
            if len(bins) < 6:
                continue
            poly = []
            for i in range(0, len(bins), 2):
                poly += [min(_centre(bins[i], frame.width), frame.width), min(_centre(bins[i + 1], frame.height), frame.height)]
            polys.append(tuple(poly))
        if polys:
            xs = [v for p in polys for v in p[0::2]]
            ys = [v for p in polys for v in p[1::2]]
            box = finish_box(min(xs), min(ys), max(xs), max(ys), frame)
            if box is not None:
                boxes.append(TextBox(box, label, run.span(), (), tuple(polys)))
        elif _LOC.search(text, run.start(), run.end()):
            problems.append("a <loc_> run too short for a polygon")
        floor = run.end()
    return make_result(boxes, problems)
