"""JSONL helpers: the id → offset index and the line reader, against a plain re-read of the file."""

from __future__ import annotations

import pickle
import random

import pytest

from padt_eval.core.jsonl import LineReader, first_offsets, iter_lines


def test_first_offsets_keeps_first_copy_in_first_seen_order():
    pairs = [("5", 0), ("3", 100), ("10", 200), ("3", 300), ("0", 400), ("a", 500), ("007", 600), ("3", 700)]
    first, dups = first_offsets(pairs)
    assert first == {"5": 0, "3": 100, "10": 200, "0": 400, "a": 500, "007": 600}
    assert list(first) == ["5", "3", "10", "0", "a", "007"]  # ids are strings: "007" is not "7"
    assert dups == {"3": [100, 300, 700]}
    assert first_offsets([]) == ({}, {})


def _lines(tmp_path):
    rows = [b'{"sample_id": "a"}\n', b"\n", b'{"sample_id": "b", "pad": "' + b"x" * 10_000 + b'"}\n', b'{"sample_id": "c"}']
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"".join(rows))
    # The expected lines come from slicing the file's bytes, independently of both helpers.
    data = path.read_bytes()
    expected = {}
    start = 0
    for row in rows:
        if row.strip():
            expected[start] = data[start : start + len(row)]
        start += len(row)
    return path, expected


def test_line_reader_reads_each_line_at_its_offset(tmp_path):
    path, expected = _lines(tmp_path)
    assert [(offset, raw) for _, offset, raw in iter_lines(path)] == list(expected.items())
    reader = LineReader(path)
    for offset in list(expected)[::-1] + list(expected):  # any order, long lines, no final newline
        assert reader.read_at(offset) == expected[offset]


def test_line_reader_pickles_after_use(tmp_path):
    # DataLoader workers started by spawn receive the reader pickled: an open file cannot be.
    path, expected = _lines(tmp_path)
    reader = LineReader(path)
    offset = list(expected)[1]
    assert reader.read_at(offset) == expected[offset]
    assert pickle.loads(pickle.dumps(reader)).read_at(offset) == expected[offset]


def test_line_index_offsets_equal_first_offsets_of_iter_lines(tmp_path):
    """The one-loop index of a line-indexed split is the general one's, blank and
    whitespace-only lines (which keep their numbers) included."""
    from padt_eval.core.jsonl import line_index_offsets

    lines = [b'{"a": 1}\n', b"\n", b"   \t\n", b'{"b": 2}\n', b' {"c": 3}\n', b"\r\n", b'{"d": 4}']
    path = tmp_path / "split.jsonl"
    path.write_bytes(b"".join(lines))
    want, dups = first_offsets((str(i), off) for i, off, _ in iter_lines(path))
    assert dups == {}
    assert line_index_offsets(path) == want
    assert list(want) == ["0", "3", "4", "6"]


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 20])
def test_line_index_offsets_equal_iter_lines_across_block_boundaries(tmp_path, block, monkeypatch):
    """The numpy index, with newlines at every position of its read blocks, equals the
    line-by-line one on random files: object lines (the numpy branch, which must not
    fall back), and blank, whitespace-only or indented lines, CRLF and a missing final
    newline (its fallback)."""
    import padt_eval.core.jsonl as jsonl

    def line_index_offsets(path, block):
        if plain and data.strip():  # every line opens an object: no fallback
            with monkeypatch.context() as m:
                m.setattr(jsonl, "iter_lines", lambda p: pytest.fail("fell back to iter_lines"))
                return jsonl.line_index_offsets(path, block=block)
        return jsonl.line_index_offsets(path, block=block)

    rng = random.Random(block)
    for case in range(40):
        plain = case % 2 == 0
        kinds = [b'{"k": %d}' % i + b"x" * rng.randrange(6) for i in range(rng.randrange(0, 12))]
        if not plain:
            kinds += rng.sample([b"", b"  \t", b' {"i": 1}', b"\r", b'{"crlf": 1}\r'], 3)
            rng.shuffle(kinds)
        data = b"\n".join(kinds) + (b"\n" if rng.random() < 0.5 else b"")
        path = tmp_path / f"f{case}.jsonl"
        path.write_bytes(data)
        want = {str(i): off for i, off, _ in iter_lines(path)}
        assert line_index_offsets(path, block=block) == want, (case, data)
