"""What "no target" means for each model family on GREC/GRES (gRefCOCO), written as data.

The metric's rule is one for all (metrics/generalized.py): an answer that was read and holds
no object rejects. What differs per family is how its output comes to hold no object, and
whether the family has a documented way to say "none" at all. A family without one is
flagged (`documented=False`): its reply without a box is still read as a rejection, never
guessed into one, and docs/reference/formats.md shows the flag next to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NoTarget:
    rule: str  # which outputs are "no target"
    documented: bool  # the family (paper, template, card) has a way to answer "none"
    multi: str = "every box of the answer is read"


_JSON = "a reply read with no box: `None`, an empty JSON list `[]`, or text without a `bbox_2d`"
_NO_SYNTAX = "no documented 'none' answer; a reply read with no box counts as a rejection (flagged)"
_FILE = 'predictions file: `"objects": []`'

NO_TARGET: dict[str, NoTarget] = {
    "padt": NoTarget(
        "zero VRT runs in the answer. PaDT's REC template has no 'none' answer (its OVD one, "
        "'No objects from the list are present in the image', is not asked here)",
        documented=False,
        multi="every VRT run is one object, with its own score",
    ),
    "qwen2_5_vl": NoTarget(_JSON + " (paper-style prompt asks for None)", documented=True),
    "qwen3_vl": NoTarget(_JSON + " (paper-style prompt asks for None)", documented=True),
    "internvl": NoTarget(_NO_SYNTAX + "; the paper-style prompt asks for None, which is read as no box", documented=False),
    "vlm_r1": NoTarget("an `<answer>` with no box, e.g. `[]` or None; " + _NO_SYNTAX, documented=False),
    "qwen2_vl": NoTarget(_NO_SYNTAX, documented=False),
    "kosmos2": NoTarget("a `<phrase>` with no `<object>`; " + _NO_SYNTAX, documented=False),
    "florence2": NoTarget(
        "its grounding and segmentation tokens always return a region: it cannot reject (flagged)", documented=False
    ),
    "shikra": NoTarget(_NO_SYNTAX, documented=False),
    "minigpt_v2": NoTarget(_NO_SYNTAX, documented=False),
    "ferret": NoTarget(_NO_SYNTAX, documented=False),
    "groundinggpt": NoTarget(_NO_SYNTAX, documented=False),
    "cogvlm": NoTarget(_NO_SYNTAX, documented=False),
    "lisa": NoTarget(_FILE + "; LISA's [SEG] always yields a mask (flagged)", documented=False),
    "pixellm": NoTarget(_FILE, documented=False),
    "glamm": NoTarget(_FILE, documented=False),
    "ref_vlm": NoTarget(_FILE, documented=False),
    "groma": NoTarget(_FILE, documented=False),
    "colour-finder": NoTarget("no pixels of the colour named in the expression (demo model)", documented=True),
}

UNKNOWN = NoTarget(_FILE + " (family not listed)", documented=False)


def no_target_rule(family: str | None) -> NoTarget:
    return NO_TARGET.get(family or "", UNKNOWN)
