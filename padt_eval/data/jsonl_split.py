"""A split stored as JSONL, one sample a line: indexed once, then streamed."""

from __future__ import annotations

import abc
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from padt_eval.core.derived_cache import Built, Derived, derived_file
from padt_eval.core.errors import DataError
from padt_eval.core.jsonl import InMemoryFile, LineReader, Source, first_offsets, iter_lines, line_index_offsets, parse_line
from padt_eval.core.types import Sample
from padt_eval.data.split import SplitInfo, SplitReader

#: lines parsed together by `__iter__` (and handed to `prepare_block`)
BLOCK_LINES = 256


def written_lines(write: Callable[[TextIO], int], extra: dict[str, Any] | None = None) -> Built:
    """Run a cache builder that writes JSONL lines and returns their count, in memory."""
    out = io.StringIO()
    n = write(out)
    return Built(out.getvalue().encode("utf-8"), n, extra or {})


def cached_jsonl(path: Path, version: str, build: Callable[[], Built]) -> tuple[Source, Derived]:
    """A derived JSONL split file, verified against its record or rebuilt (see
    `core/derived_cache.py`): its path, or its bytes when the cache cannot be written."""
    derived = derived_file(path, version, build)
    if derived.path is not None:
        return derived.path, derived
    assert derived.data is not None
    return InMemoryFile(f"{path} (kept in memory)", derived.data), derived


class _Where:
    """`file:line`, formatted only when a message needs it (f-strings call `__str__`)."""

    __slots__ = ("reader", "line_index")

    def __init__(self, reader: JsonlSplitReader, line_index: int) -> None:
        self.reader = reader
        self.line_index = line_index

    def __str__(self) -> str:
        return self.reader._where(self.line_index)

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731


class JsonlSplitReader(SplitReader):
    """Subclasses say how a line becomes a Sample and what its id is.

    Construction reads the file once and keeps only the id → offset index. When ids live
    in the lines, every line is parsed and converted then, so a malformed line, a bad box
    or an image path that escapes the root is reported (file and line) at once. When the
    id *is* the line index (`id_is_line_index`), indexing needs no parsing at all and lines
    are checked as they are read; `validate()` checks them all up front, which the model
    runner does before spending any model time.
    """

    id_is_line_index = False
    #: A derived cache's record (`core/derived_cache.py`): its `ground_truth_validated`
    #: says every line passed the checks when it was built. None for a source file.
    cache_record: dict[str, Any] | None = None

    def __init__(self, path: Source, info: SplitInfo) -> None:
        self.path: Path | InMemoryFile = path if isinstance(path, InMemoryFile) else Path(path)
        self.info = info
        if isinstance(self.path, Path) and not self.path.is_file():
            raise DataError(f"split file not found: {self.path}")
        self._lines = LineReader(self.path)
        if self.id_is_line_index and type(self)._ids_and_offsets is JsonlSplitReader._ids_and_offsets:
            self._index, dups = line_index_offsets(self.path), {}
        else:
            self._index, dups = first_offsets(self._ids_and_offsets())
        self._validated = not self.id_is_line_index
        if dups:
            sid, offsets = next(iter(dups.items()))
            raise DataError(
                f"{self.path}: sample_id {sid!r} appears {len(offsets)} times "
                f"({len(dups)} duplicated id(s) in all); a split must list each sample once"
            )
        if len(self._index) == 0:
            raise DataError(f"{self.path}: the split file holds no samples")

    def _ids_and_offsets(self) -> Iterator[tuple[str, int]]:
        for line_index, offset, raw in iter_lines(self.path):
            if self.id_is_line_index:
                yield str(line_index), offset
            else:
                yield self._convert(parse_line(raw, self.path, line_index), line_index).sample_id, offset

    def _convert(self, obj: Any, line_index: int) -> Sample:
        # `where` is built for messages only: formatting it for every line costs more than
        # converting many lines.
        try:
            if not isinstance(obj, dict):
                raise DataError(f"{self._where(line_index)}: expected a JSON object, got {type(obj).__name__}")
            return self.line_to_sample(obj, line_index, _Where(self, line_index))
        except DataError:
            raise
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DataError(f"{self._where(line_index)}: cannot read this sample ({type(exc).__name__}: {exc})") from None

    def _where(self, line_index: int) -> str:
        return f"{self.path}:{line_index + 1}" if line_index >= 0 else str(self.path)

    @abc.abstractmethod
    def line_to_sample(self, obj: dict[str, Any], line_index: int, where: Any) -> Sample:
        """Convert one parsed line; raise DataError naming `where` (str() gives `file:line`) on bad content."""

    def validate(self) -> None:
        """Read and convert every line once; the first problem raises DataError with file:line."""
        if not self._validated:
            for _ in self:
                pass
            self._validated = True

    def __len__(self) -> int:
        return len(self._index)

    def sample_ids(self) -> Iterator[str]:
        return iter(self._index)

    def __iter__(self) -> Iterator[Sample]:
        # Lines are parsed a block at a time so that `prepare_block` can check what is
        # cheaper to check for many lines at once (RLE counts); a parse error is kept and
        # raised in its turn, after the lines before it are converted.
        block: list[tuple[int, Any]] = []
        for line_index, _offset, raw in iter_lines(self.path):
            try:
                block.append((line_index, parse_line(raw, self.path, line_index)))
            except DataError as exc:
                block.append((line_index, exc))
            if len(block) == BLOCK_LINES:
                yield from self._convert_block(block)
                block = []
        if block:
            yield from self._convert_block(block)

    def _convert_block(self, block: list[tuple[int, Any]]) -> Iterator[Sample]:
        self.prepare_block([obj for _, obj in block if not isinstance(obj, DataError)])
        try:
            for line_index, obj in block:
                if isinstance(obj, DataError):
                    raise obj
                yield self._convert(obj, line_index)
        finally:
            self.prepare_block([])

    def prepare_block(self, objs: list[Any]) -> None:  # noqa: B027  (an optional hook)
        """Called with the parsed lines of a block before they are converted one by one
        (and with [] after): a reader may check something for all of them at once here.
        The lines are untrusted: anything it cannot make sense of is left to `line_to_sample`."""

    def get(self, sample_id: str) -> Sample:
        offset = self._index.get(sample_id)
        if offset is None:
            raise KeyError(sample_id)
        # The line index only matters to formats whose id *is* the line index (messages
        # and ids), and they override `_line_index_of`.
        line_index = self._line_index_of(sample_id)
        return self._convert(parse_line(self._lines.read_at(offset), self.path, line_index), line_index)

    def _line_index_of(self, sample_id: str) -> int:
        return -1

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._index
