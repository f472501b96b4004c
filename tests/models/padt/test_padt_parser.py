"""Parser unit tests, default and reference-compatible modes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from padt_eval.models.padt.parsing import parse_completion
from padt_eval.models.padt.pipeline import PadtPipeline

E = 100  # embedding rows: VRT i has id E + i
IM_END, EOT = 2, 1
EOS_IDS = [IM_END, EOT]


def tokens(*pieces: str) -> tuple[list[int], list[str]]:
    """Pieces are token strings; VRTs and the two eos tokens get their ids, text gets 7."""
    ids = []
    for p in pieces:
        if p.startswith("<|VRT_"):
            ids.append(E + int(p[6:-2]))
        elif p == "<|im_end|>":
            ids.append(IM_END)
        elif p == "<|endoftext|>":
            ids.append(EOT)
        else:
            ids.append(7)
    return ids, list(pieces)


def vrts(*idx: int) -> list[str]:
    return [f"<|VRT_{i}|>" for i in idx]


def parse(pieces, *, compat: bool, finished: bool = True, num_vrts: int = 50):
    ids, strings = tokens(*pieces)
    return parse_completion(
        ids,
        strings,
        vocab_size=E,
        num_vrts=num_vrts,
        eos_ids=EOS_IDS,
        eos_token="<|im_end|>",
        finished=finished,
        compat=compat,
    )


BOTH = pytest.mark.parametrize("compat", [False, True], ids=["default", "compat"])


@BOTH
def test_rec_answer(compat):
    r = parse(
        ["The", ' "', "red", " car", '"', " refers", " to", " ", *vrts(4, 9, 3, 3, 1), " in", ".", "<|im_end|>"], compat=compat
    )
    assert r.ok and r.reason is None
    assert [o.label for o in r.objects] == ["red car"]
    assert r.objects[0].vrt_ids == [4, 9, 3, 3, 1]
    assert r.objects[0].steps == [8, 9, 10, 11, 12]
    assert r.objects[0].vrt_text == "".join(vrts(4, 9, 3, 3, 1))


@BOTH
def test_ovd_label_applies_to_every_run_until_the_next_label(compat):
    r = parse(
        [
            "2",
            ' "',
            "cat",
            '"',
            " (",
            *vrts(1, 2),
            ",",
            " ",
            *vrts(3),
            ")",
            ",",
            " 1",
            ' "',
            "dog",
            '"',
            " (",
            *vrts(7, 8, 9),
            ").",
            "<|im_end|>",
        ],
        compat=compat,
    )
    assert [(o.label, o.vrt_ids) for o in r.objects] == [("cat", [1, 2]), ("cat", [3]), ("dog", [7, 8, 9])]


@BOTH
@pytest.mark.parametrize("n", [1, 5, 17])
def test_runs_of_any_length(compat, n):
    r = parse(["A", " (", *vrts(*range(n)), ")", "<|im_end|>"], compat=compat)
    assert [len(o.vrt_ids) for o in r.objects] == [n]
    assert r.objects[0].label == ""  # no quotes (RIC): empty label


@BOTH
def test_empty_answer_is_ok_with_no_objects(compat):
    r = parse(["No", " objects", "<|im_end|>", "<|endoftext|>"], compat=compat)
    assert r.ok and r.objects == []


def test_truncated_run_default_keeps_it():
    r = parse(["A", ' "', "cat", '"', " (", *vrts(5, 6, 7)], compat=False, finished=False)
    assert r.ok and r.truncated
    assert [o.vrt_ids for o in r.objects] == [[5, 6, 7]]
    assert r.objects[0].truncated and "max_new_tokens" in r.reason and "cut-off run is kept" in r.reason


def test_truncated_run_compat_fails_naming_the_reference_rule():
    r = parse(["A", ' "', "cat", '"', " (", *vrts(5, 6, 7)], compat=True, finished=False)
    assert not r.ok and r.objects == []
    assert "reference parser rule" in r.reason and "VRT run reaches the end" in r.reason
    assert r.truncated and "max_new_tokens" in r.reason


def test_truncated_without_any_object_fails_in_default_mode():
    r = parse(["blah", " blah"], compat=False, finished=False)
    assert not r.ok and r.objects == [] and "without any VRT run" in r.reason


def test_truncated_text_after_objects_keeps_them():
    r = parse([*vrts(1), " and", " more"], compat=False, finished=False)
    assert r.ok and r.truncated and len(r.objects) == 1 and not r.objects[0].truncated


@pytest.mark.parametrize("last", ["<|fim_suffix|>", "<", "<|VRT_3|>"])
def test_angle_bracket_token_at_the_end(last):
    pieces = ["x", *vrts(1, 2), " y", last]
    compat = parse(pieces, compat=True)
    assert not compat.ok and compat.objects == [] and "reference parser rule" in compat.reason
    default = parse(pieces, compat=False)
    assert default.ok and len(default.objects) == (2 if last.startswith("<|VRT") else 1)


def test_endoftext_stops_default_but_not_compat():
    pieces = ["x", *vrts(1), "<|endoftext|>", *vrts(2), "<|im_end|>"]
    assert [o.vrt_ids for o in parse(pieces, compat=False).objects] == [[1]]
    assert [o.vrt_ids for o in parse(pieces, compat=True).objects] == [[1], [2]]
    # ... and an answer that ends on <|endoftext|> trips the reference's look-ahead
    tail = parse(["x", *vrts(1), "<|endoftext|>"], compat=True)
    assert not tail.ok and "<|endoftext|>" in tail.reason


def test_vrt_outside_the_image_is_malformed_in_default_mode():
    r = parse(["x", *vrts(1, 60), "<|im_end|>"], compat=False, num_vrts=50)
    assert not r.ok and r.objects == [] and "<|VRT_60|>" in r.reason


def test_label_quirks_compat_vs_default():
    # a token holding both quotes, then an unclosed label interrupted by a run
    pieces = ['"cat"', " (", *vrts(1), ")", ' "', " dog ", *vrts(2), "<|im_end|>"]
    c = parse(pieces, compat=True)
    assert [o.label for o in c.objects] == ["cat (", " dog "]  # reference: label left open, run takes it unstripped
    d = parse(pieces, compat=False)
    assert [o.label for o in d.objects] == ["cat", "dog"]
    assert "never closed" not in (d.reason or "")


def test_unclosed_label_at_the_end_is_noted():
    d = parse(["x", *vrts(1), ' "', "half", "<|im_end|>"], compat=False)
    assert d.ok and "never closed" in d.reason


@BOTH
def test_text_joins_every_token(compat):
    r = parse(["a", *vrts(3), "<|im_end|>", "<|endoftext|>"], compat=compat)
    assert r.text == "a<|VRT_3|><|im_end|><|endoftext|>"


def test_first_step_feature_compat_is_the_prompt_block():
    r_c = parse([*vrts(1, 2), "<|im_end|>"], compat=True)
    r_d = parse([*vrts(1, 2), "<|im_end|>"], compat=False)
    step_hidden = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)  # B, T, D
    prompt_hidden = -torch.ones(2, 6, 4)  # B, L, D
    fc = PadtPipeline.features(SimpleNamespace(compat=True), [r_c, r_c], step_hidden, prompt_hidden)
    fd = PadtPipeline.features(SimpleNamespace(compat=False), [r_d, r_d], step_hidden, prompt_hidden)
    assert fc[1][0].shape == (6 + 1, 4) and torch.equal(fc[1][0][:6], prompt_hidden[1])
    assert torch.equal(fc[1][0][6], step_hidden[1, 1])
    assert fd[1][0].shape == (2, 4) and torch.equal(fd[1][0], step_hidden[1, :2])
