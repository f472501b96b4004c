"""The report parses only the lines that may hold a drawn sample's answer
(`run_report._candidate_lines`): the lines it hands over, once parsed, must give the same
first answer per wanted id, with the same line numbers, as parsing every line does."""

from __future__ import annotations

import io
import random

import orjson

from padt_eval.report import run_report
from padt_eval.report.run_report import _candidate_lines


def _first_per_id(pairs, wanted: set[str]) -> dict[str, tuple[int, bytes]]:
    out: dict[str, tuple[int, bytes]] = {}
    for lineno, line in pairs:
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        sid = str(d.get("sample_id")) if isinstance(d, dict) else None
        if sid in wanted and sid not in out:
            out[sid] = (lineno, line.rstrip(b"\n"))
    return out


def _file(rng: random.Random) -> bytes:
    lines = []
    for i in range(300):
        kind = rng.random()
        sid: object = str(i)
        if kind < 0.05:
            sid = i  # an id written as a number
        text = f"see {rng.randrange(300)}" if rng.random() < 0.3 else "x"
        line = orjson.dumps({"sample_id": sid, "text": text, "objects": [{"bbox": [i, 1, 2, 3]}]})
        if kind > 0.97:
            line = b'{"sample_id": "\\u00' + hex(ord(str(i)[0]))[2:].encode() + str(i)[1:].encode() + b'", "x": 1}'  # escaped
        if kind > 0.95 and kind <= 0.97:
            line = line[:-3]  # malformed
        lines.append(line)
        if rng.random() < 0.02:
            lines.append(b"")  # a blank line shifts the numbers
        if rng.random() < 0.02:
            lines.append(lines[rng.randrange(len(lines))])  # a repeated id
    data = b"\n".join(lines)
    return data if rng.random() < 0.5 else data + b"\n"


def test_candidate_lines_give_what_a_full_parse_gives(tmp_path, monkeypatch) -> None:
    rng = random.Random(7)
    path = tmp_path / "preds.jsonl"
    for _ in range(60):
        data = _file(rng)
        path.write_bytes(data)
        # blocks of a few lines, so that lines cross block ends
        monkeypatch.setattr(run_report, "_SCAN_BLOCK", rng.choice([64, 500, 1 << 22]))
        wanted = {str(rng.randrange(320)) for _ in range(rng.randrange(1, 25))}
        got = _first_per_id(_candidate_lines(path, wanted), wanted)
        want = _first_per_id(enumerate(io.BytesIO(data), start=1), wanted)
        assert got == want


def test_only_lines_naming_an_id_are_parsed_when_every_id_is_found(tmp_path, monkeypatch) -> None:
    path = tmp_path / "preds.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps({"sample_id": str(i), "objects": []}) for i in range(1000)) + b"\n")
    monkeypatch.setattr(run_report, "_SCAN_BLOCK", 100)
    got = list(_candidate_lines(path, {"5", "999"}))
    assert [n for n, _ in got] == [6, 1000]
