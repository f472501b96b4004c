"""Open…close pairs found in linear time.

A regular expression such as `<p>(.*?)</p>` is quadratic on text that opens many times
and never closes (`<p><p><p>…`): from every opening it scans to the end of the text for
the closing. `pairs` finds the same matches as `re.finditer` of `OPEN(.*?)CLOSE` with
DOTALL (leftmost opening, nearest closing after it, matches not overlapping), but stops
as soon as no closing is left: no later opening could find one either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


def pairs(text: str, opening: str, closing: str, pos: int = 0, endpos: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """(start, inner start, inner end, end) of each `opening…closing` in text[pos:endpos]."""
    end_at = len(text) if endpos is None else endpos
    while True:
        s = text.find(opening, pos, end_at)
        if s < 0:
            return
        e = text.find(closing, s + len(opening), end_at)
        if e < 0:
            return
        yield s, s + len(opening), e, e + len(closing)
        pos = e + len(closing)


def sub_pairs(text: str, opening: str, closing: str, repl: Callable[[str], str]) -> str:
    """`re.sub(OPEN(.*?)CLOSE, lambda m: repl(m.group(1)), text, flags=re.S)`, in linear time."""
    out, last = [], 0
    for s, a, b, e in pairs(text, opening, closing):
        out += [text[last:s], repl(text[a:b])]
        last = e
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


class Floors:
    """The last of a list of sorted, non-overlapping spans that lies within [floor, at),
    for queries whose `floor` and `at` never decrease (one per box, in text order): the
    `<ref>` written since the previous box, in amortised O(1) per query instead of a scan
    of every span for every box."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = spans
        self.lo = 0  # first span starting at or after the floor
        self.hi = 0  # first span ending after `at`

    def last_between(self, floor: int, at: int) -> int | None:
        """Index of the last span with floor <= start and end <= at; None when none."""
        spans, n = self.spans, len(self.spans)
        while self.lo < n and spans[self.lo][0] < floor:
            self.lo += 1
        while self.hi < n and spans[self.hi][1] <= at:
            self.hi += 1
        return self.hi - 1 if self.hi - 1 >= self.lo else None
