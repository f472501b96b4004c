"""PaDT completions -> objects (a label and a run of VRT tokens each).

A PaDT answer names objects with quoted labels and refers to image regions with runs of
Visual Reference Tokens, e.g. (REC) `The "red car" refers to <|VRT_4|><|VRT_9|>... in this
image.<|im_end|>`, (OVD) `there are 2 "cat" (<5 VRTs>, <5 VRTs>), ...`. Each maximal run of
consecutive VRTs is one object; its label is the most recent quoted text. The parser
only returns token positions; `pipeline` turns them into decoder features.

Two modes.

`compat=True` replays the reference parser (`parseVRTintoCompletion`, evaluation call with
"no thinking") token for token, quirks included:
  * the scan stops only at a token whose text contains the tokenizer's eos text
    (`<|im_end|>`); `<|endoftext|>` does not stop it;
  * a token containing `<` triggers the `<answer>` look-ahead at the next two tokens, and a
    VRT run is followed to its end; reading past the last token raised inside a bare
    `except` that silently emptied the sample. Here that sample gets status FAILED and a
    reason naming the rule (its objects are still dropped, as in the reference);
  * labels: the text after the first quote of the opening token, later tokens appended
    verbatim, the text before the quote of the closing token, then stripped; a run that
    interrupts an open label uses it unstripped; a label is reused by later runs until a
    new one opens; VRTs are recognised by the substring `<|VRT_`;
  * (in `pipeline`) a VRT produced at the first generation step gets the whole prompt's
    hidden states as its feature (L rows instead of one).

Default mode (`compat=False`) keeps the answer format but fixes what is accidental:
  * the scan stops at the first eos id of the generation config (`<|im_end|>` *or*
    `<|endoftext|>`);
  * nothing is dropped wholesale: every VRT run becomes an object. A run cut off by
    max_new_tokens is kept; the result has `truncated=True` and the reason says so. A
    truncated completion with no object at all is FAILED (the answer never came);
  * VRTs are recognised by id (>= E), and a VRT outside the sample's own image (possible
    only for text that did not come from our masked decoding) makes the sample FAILED;
  * quotes are handled inside a token too (a token `"cat"` opens and closes a label);
    labels are always stripped; a label still applies to later runs until the next quoted
    label, because that is what OVD's `2 "cat" (run, run)` means;
  * (in `pipeline`) the first-step feature is the last prompt position's state, one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

VRT_MARK = "<|VRT_"
REFERENCE_RULE = "reference parser rule (bare except in parseVRTintoCompletion drops every object of the sample)"


@dataclass
class ParsedObject:
    label: str
    vrt_text: str  # the run's token strings, concatenated
    vrt_ids: list[int]  # local VRT indices i (token id E + i)
    steps: list[int]  # completion positions of the run's tokens (= generation steps)
    truncated: bool = False


@dataclass
class ParseResult:
    objects: list[ParsedObject] = field(default_factory=list)
    ok: bool = True
    reason: str | None = None
    truncated: bool = False
    text: str = ""  # every completion token's string, joined (special tokens kept)
    answer_tokens: int = 0  # tokens scanned before the stop token


def parse_completion(
    ids: Sequence[int],
    strings: Sequence[str],
    *,
    vocab_size: int,
    num_vrts: int,
    eos_ids: Sequence[int],
    eos_token: str,
    finished: bool = True,
    compat: bool = False,
) -> ParseResult:
    """Parse one sample's completion (local ids and their per-token strings).

    `finished` is False when generation stopped at max_new_tokens without an eos id.
    `num_vrts` is M_b, the number of VRTs of the sample's own image.
    """
    if len(ids) != len(strings):
        raise ValueError("ids and strings must have the same length")
    if compat:
        res = _parse_reference(ids, strings, vocab_size=vocab_size, eos_token=eos_token)
    else:
        res = _parse_default(ids, strings, vocab_size=vocab_size, num_vrts=num_vrts, eos_ids=eos_ids, finished=finished)
    res.text = "".join(strings)
    if not finished and compat:
        res.truncated = True
        cut = "generation reached max_new_tokens without an end-of-turn token"
        res.reason = f"{res.reason}; {cut}" if res.reason else cut
    return res


class _PastEnd(Exception):
    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def _at(strings: Sequence[str], j: int, why: str) -> str:
    if j >= len(strings):
        raise _PastEnd(why)
    return strings[j]


def _parse_reference(ids, strings, *, vocab_size: int, eos_token: str) -> ParseResult:
    objects: list[ParsedObject] = []
    label, in_label, in_answer = "", False, False
    i = 0
    try:
        while i < len(strings):
            tok = strings[i]
            if eos_token in tok:
                break
            lookahead = f"token {tok!r} at the last position triggers the '<answer>' look-ahead past the end"
            # opening answer tag: '<' (not '</') then 'answer' then '>'; Python's `and`
            # evaluates left to right, so the next tokens are only read when needed
            if (
                not in_answer
                and "<" in tok
                and "</" not in tok
                and "answer" in _at(strings, i + 1, lookahead)
                and ">" in _at(strings, i + 2, lookahead)
            ):
                in_answer = True
                i += 3
                continue
            # evaluation call: "no thinking", so every token is answer text
            if "</" in tok and "answer" in _at(strings, i + 1, lookahead) and ">" in _at(strings, i + 2, lookahead):
                break
            if '"' in tok and not in_label:
                in_label = True
                label = tok.split('"')[1]
                i += 1
                continue
            if '"' in tok and in_label:
                in_label = False
                label = (label + tok.split('"')[0]).strip()
                i += 1
                continue
            if VRT_MARK in tok:
                in_label = False
                steps, text = [], ""
                while VRT_MARK in _at(strings, i, "a VRT run reaches the end of the completion"):
                    steps.append(i)
                    text += strings[i]
                    i += 1
                objects.append(ParsedObject(label, text, [int(ids[s]) - vocab_size for s in steps], steps))
                continue
            if in_label:
                label += tok
            i += 1
    except _PastEnd as exc:
        return ParseResult(ok=False, reason=f"{REFERENCE_RULE}: {exc.why}", answer_tokens=i)
    return ParseResult(objects=objects, answer_tokens=i)


def _parse_default(ids, strings, *, vocab_size: int, num_vrts: int, eos_ids, finished: bool) -> ParseResult:
    eos = set(int(e) for e in eos_ids)
    objects: list[ParsedObject] = []
    label, buf, in_label = "", "", False
    run: list[int] = []
    notes: list[str] = []
    bad: list[str] = []

    def close_run():
        nonlocal run
        if run:
            objects.append(ParsedObject(label, "".join(strings[s] for s in run), [int(ids[s]) - vocab_size for s in run], run))
            run = []

    end = len(ids)
    for i, tid in enumerate(ids):
        tid = int(tid)
        if tid in eos:
            end = i
            break
        if tid >= vocab_size:
            if tid - vocab_size >= num_vrts:
                bad.append(f"{strings[i] or '<VRT id ' + str(tid) + '>'} at position {i}")
            if not run and in_label:  # a run interrupts an open label: the label ends here
                label, in_label = buf.strip(), False
            run.append(i)
            continue
        close_run()
        parts = strings[i].split('"')
        if in_label:
            buf += parts[0]
        for piece in parts[1:]:
            if in_label:
                label, in_label = buf.strip(), False
            else:
                buf, in_label = piece, True
    cut_run = bool(run) and not finished and end == len(ids)
    close_run()
    if cut_run:
        objects[-1].truncated = True

    if bad:
        return ParseResult(ok=False, reason="VRT tokens outside this image's visual tokens: " + "; ".join(bad), answer_tokens=end)
    if in_label:
        notes.append("a quoted label is never closed")
    truncated = not finished  # no eos id anywhere in the completion
    ok = True
    if truncated:
        if cut_run:
            notes.insert(0, "generation reached max_new_tokens inside a VRT run; the cut-off run is kept as the last object")
        elif objects:
            notes.insert(0, "generation reached max_new_tokens without an end-of-turn token; objects before the cut are kept")
        else:
            ok = False
            notes.insert(0, "generation reached max_new_tokens without an end-of-turn token and without any VRT run")
    return ParseResult(objects=objects, ok=ok, reason="; ".join(notes) or None, truncated=truncated, answer_tokens=end)
