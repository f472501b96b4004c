"""`--predictions F --format NAME`: score the raw text of a predictions file with a family's parser.

Each line's `text` is parsed by the named family's parser in that family's frame; the
line's own `objects` are ignored (they would be someone else's reading of the text). The
image size comes from the split, never from the line. For the formats written in
model-input pixels (Qwen2.5-VL, VLM-R1) the input size is recomputed from the original
size with the processor's `smart_resize` and the run's `--min-pixels/--max-pixels`
(defaults: the checkpoints' 3136 and 12845056); both are recorded in the manifest, since a
run that used other values reads its boxes at another scale. Text boxes carry no
confidence, so their `score` is left empty.
"""

from __future__ import annotations

from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.core.types import ModelRequest, ParseStatus, Prediction
from padt_eval.models.coords import Frame, TextFormat, get_format
from padt_eval.models.coords.qwen2_5_vl import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, smart_resize
from padt_eval.models.text_rules import ANSWER_RULE, prediction_from_text


class RawTextParser:
    """Reads one line's raw `text` in one format's frame, the image size taken from the split."""

    def __init__(self, fmt: TextFormat, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
        self.fmt = fmt
        self.min_pixels = DEFAULT_MIN_PIXELS if min_pixels is None else int(min_pixels)
        self.max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
        if (min_pixels is not None or max_pixels is not None) and not fmt.needs_input_size:
            raise UsageError(f"--format {fmt.name} is not written in model-input pixels; --min-pixels/--max-pixels do not apply")
        if self.min_pixels <= 0 or self.max_pixels < self.min_pixels:
            raise UsageError(f"--min-pixels ({self.min_pixels}) must be positive and at most --max-pixels ({self.max_pixels})")

    def frame(self, width: int, height: int) -> Frame:
        if not self.fmt.needs_input_size:
            return Frame(width, height)
        h, w = smart_resize(height, width, 28, self.min_pixels, self.max_pixels)
        return Frame(width, height, w, h)

    def __call__(self, text: str, req: ModelRequest, line: Prediction) -> Prediction:
        """`req` is what a model would have been asked (image size, task; never the
        ground truth): the same text reads the same whatever the split's answers are."""
        try:
            frame = self.frame(req.image.width, req.image.height)
        except ValueError as exc:
            return Prediction(req.sample_id, text=text, parse_status=ParseStatus.ERROR, parse_reason=str(exc))
        if line.text is None:
            if line.parse_status in (ParseStatus.ERROR, ParseStatus.MISSING):
                # The producer could not run this sample; keep its account of why.
                return Prediction(req.sample_id, parse_status=line.parse_status, parse_reason=line.parse_reason)
            return Prediction(
                req.sample_id,
                parse_status=ParseStatus.FAILED,
                parse_reason=f"the line has no 'text' to read with --format {self.fmt.name}",
            )
        return prediction_from_text(req.sample_id, req.task, text, self.fmt, frame)

    def describe(self) -> dict[str, Any]:
        """What the manifest's `model` records about how the text was read."""
        d: dict[str, Any] = {
            "format": self.fmt.name,
            "coordinate_frame": self.fmt.frame,
            "box_score": "none (raw text carries no confidence)",
        }
        d["rec_res_selection"] = ANSWER_RULE
        if self.fmt.needs_input_size:
            d.update(min_pixels=self.min_pixels, max_pixels=self.max_pixels, resize_rule="smart_resize, factor 28")
        return d


def raw_text_parser(format_name: str, min_pixels: int | None = None, max_pixels: int | None = None) -> RawTextParser:
    return RawTextParser(get_format(format_name), min_pixels, max_pixels)
