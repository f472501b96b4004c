"""Exact parsers of the coordinate-text baselines, one module per output format.

Each module's `parse(text, frame)` reads one family's box syntax in that family's own
coordinate frame and returns every box in original-image pixels. The format is chosen by
the model family (`--format NAME` for predictions files, the adapter for live runs), never
by the size of the numbers, and a parser only ever sees the text and the image size. The
table of formats (`FORMATS`, `get_format`) is built from the family entries, which live
here too (`registry.py`, the built-in ones in `families.py`). Everything here is pure
Python: scoring a predictions file never imports torch, nor the model side of models/.
"""

from __future__ import annotations

from padt_eval.models.coords.common import Frame, ParseResult, TextBox
from padt_eval.models.coords.registry import FORMATS, TextFormat, get_format

__all__ = ["FORMATS", "Frame", "ParseResult", "TextBox", "TextFormat", "get_format"]
