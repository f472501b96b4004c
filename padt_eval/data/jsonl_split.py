"""A split stored as JSONL, one sample a line: indexed once, then streamed."""

from __future__ import annotations

import abc
import json
from pathlib import Path
from typing import Any, Iterator

from padt_eval.data.id_index import IdIndex
from padt_eval.data.jsonl import LineReader, iter_lines, parse_line
from padt_eval.data.split import SplitInfo, SplitReader
from padt_eval.errors import DataError
from padt_eval.types import Sample


class JsonlSplitReader(SplitReader):
    """Subclasses say how a line becomes a Sample and what its id is.

    Construction reads the file once: every line is parsed and converted, so a malformed
    line, a bad box or an image path that escapes the root is reported (file and line)
    before any model time is spent. Only the id → offset index is kept.
    """

    def __init__(self, path: str | Path, info: SplitInfo) -> None:
        self.path = Path(path)
        self.info = info
        if not self.path.is_file():
            raise DataError(f"split file not found: {self.path}")
        self._index = IdIndex()
        self._lines = LineReader(self.path)
        for line_index, offset, raw in iter_lines(self.path):
            obj = parse_line(raw, self.path, line_index)
            sample = self._convert(obj, line_index)
            self._index.add(sample.sample_id, offset)
        dups = self._index.finalize()
        if dups:
            sid, offsets = dups[0]
            raise DataError(
                f"{self.path}: sample_id {sid!r} appears {len(offsets)} times "
                f"({len(dups)} duplicated id(s) in all); a split must list each sample once"
            )
        if len(self._index) == 0:
            raise DataError(f"{self.path}: the split file holds no samples")

    def _convert(self, obj: Any, line_index: int) -> Sample:
        where = f"{self.path}:{line_index + 1}"
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        try:
            return self.line_to_sample(obj, line_index, where)
        except DataError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DataError(f"{where}: cannot read this sample ({type(exc).__name__}: {exc})") from None

    @abc.abstractmethod
    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: str) -> Sample:
        """Convert one parsed line; raise DataError naming `where` on bad content."""

    def __len__(self) -> int:
        return len(self._index)

    def sample_ids(self) -> Iterator[str]:
        return self._index.ids()

    def __iter__(self) -> Iterator[Sample]:
        for line_index, _offset, raw in iter_lines(self.path):
            yield self._convert(parse_line(raw, self.path, line_index), line_index)

    def get(self, sample_id: str) -> Sample:
        offset = self._index.get(sample_id)
        if offset is None:
            raise KeyError(sample_id)
        # Lines were validated when the index was built; the line index only matters to
        # formats whose id *is* the line index, and they override `_line_index_of`.
        line_index = self._line_index_of(sample_id)
        return self._convert(json.loads(self._lines.read_at(offset)), line_index)

    def _line_index_of(self, sample_id: str) -> int:
        return -1

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index
