"""`clean_caption` on PaDT's output, its reference templates and every baseline family's box syntax."""

from __future__ import annotations

import pytest

from padt_eval.core.caption_text import clean_caption

CASES = [
    # PaDT: VRT runs in parentheses, several objects per group, end-of-turn token
    (
        "A green triangle (<|VRT_5|><|VRT_6|><|VRT_7|><|VRT_8|><|VRT_9|>) and two cats (<|VRT_1|><|VRT_2|>, <|VRT_3|><|VRT_3|>) on a mat.<|im_end|>",
        "A green triangle and two cats on a mat.",
    ),
    # PaDT's reference templates
    ("A man (<|Obj_0|>) rides horses (<|Obj_1|>, <|Obj_2|>).", "A man rides horses."),
    # Qwen2.5-VL with the paper's A.3 RIC prompt
    (
        "In this image, a cat ([12, 30, 200, 310]) is sitting on the wooden table ([0, 150, 640, 480]).",
        "In this image, a cat is sitting on the wooden table.",
    ),
    # Qwen2.5-VL JSON (fenced)
    (
        '```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a cat"}, {"bbox_2d": [5, 6, 7, 8], "label": "a table"}]\n```',
        "a cat, a table",
    ),
    # Qwen2-VL
    (
        "<|object_ref_start|>a man<|object_ref_end|><|box_start|>(10,20),(300,400)<|box_end|> rides "
        "<|object_ref_start|>a horse<|object_ref_end|><|box_start|>(1,2),(3,4)<|box_end|>.",
        "a man rides a horse.",
    ),
    # InternVL
    (
        "<ref>A dog</ref><box>[[10, 20, 300, 400]]</box> chases <ref>two balls</ref><box>[[1, 2, 3, 4], [5, 6, 7, 8]]</box>.",
        "A dog chases two balls.",
    ),
    # Kosmos-2
    (
        "<grounding> An image of<phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863></object> warming himself by"
        "<phrase> a fire</phrase><object><patch_index_0005><patch_index_0911></delimiter_of_multi_objects/><patch_index_0100><patch_index_0200></object>.",
        "An image of a snowman warming himself by a fire.",
    ),
    # Florence-2
    ("a dog<loc_12><loc_40><loc_300><loc_700> on grass<loc_1><loc_2><loc_3><loc_4>", "a dog on grass"),
    # Shikra (0-1, 3 decimals, ';' between boxes)
    ("A man [0.102,0.230,0.500,0.911] holds a cup [0.100,0.200,0.300,0.400;0.500,0.600,0.700,0.800].", "A man holds a cup."),
    # MiniGPT-v2
    ("<p>a man</p> {<10><20><50><90>} next to <p>a bike</p> {<1><2><3><4>}<delim>{<5><6><7><8>}", "a man next to a bike"),
    # CogVLM grounding
    ("A man [[086,540,400,760]] and dogs [[001,002,003,004;005,006,007,008]].", "A man and dogs."),
    # Ferret
    ("A man [12, 30, 200, 310] and a dog [1, 2, 3, 4].", "A man and a dog."),
]


@pytest.mark.parametrize("text, want", CASES)
def test_every_family(text, want):
    assert clean_caption(text) == want


def test_words_and_ordinary_numbers_survive():
    assert (
        clean_caption("Two dogs (brown) play with 3 balls [left], 1, 2, 3.")
        == "Two dogs (brown) play with 3 balls [left], 1, 2, 3."
    )
    assert clean_caption(None) == "" and clean_caption("<|VRT_1|><|VRT_2|>") == ""
