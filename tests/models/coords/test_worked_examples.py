"""Every worked example of docs/reference/baselines.md (640x427 image), with its expected pixels.

The doc rounds to 2 decimals, hence the 0.01 px tolerance. `first` marks the examples
whose expectation is about the first box only (what REC takes).
"""

from __future__ import annotations

import pytest

from padt_eval.core.types import ParseStatus
from padt_eval.models.coords import FORMATS, Frame
from padt_eval.models.coords.qwen2_5_vl import input_frame, smart_resize

W, H = 640, 427
PLAIN = Frame(W, H)
QWEN = input_frame(W, H)  # 644 x 420 with the default pixels

MAN = [198.76, 172.83, 354.78, 338.55]  # Qwen2.5-VL [200, 170, 357, 333] in 644x420
MAN_1000 = [199.68, 173.36, 355.20, 333.49]  # [312, 406, 555, 781] per mille

EXAMPLES = [
    # §2.1 Qwen2.5-VL
    (
        "q25-1",
        "qwen2_5_vl",
        '```json\n[\n\t{"bbox_2d": [200, 170, 357, 333], "label": "man in red"}\n]\n```',
        QWEN,
        [MAN],
        ["man in red"],
    ),
    (
        "q25-2",
        "qwen2_5_vl",
        'The man on the left is at {"bbox_2d": [12, 230, 98, 415], "label": "man"}.',
        QWEN,
        [[11.93, 233.83, 97.39, 421.92]],
        ["man"],
    ),
    (
        "q25-3",
        "qwen2_5_vl",
        '```json\n[{"bbox_2d": [200, 170, 357, 333], "label": "a"}, {"bbox_2d": [401, 88, 560, 300], "label": "b"}]\n```',
        QWEN,
        [MAN, [398.51, 89.47, 556.52, 305.00]],
        ["a", "b"],
    ),
    (
        "q25-4",
        "qwen2_5_vl",
        '```json\n[\n {"bbox_2d": [200, 170, 357, 333], "label": "cup"},\n {"bbox_2d": [401, 8',
        QWEN,
        [MAN],
        ["cup"],
    ),
    ("q25-5", "qwen2_5_vl", '{"bbox_2d": [357, 333, 200, 170]}', QWEN, [MAN], [None]),
    ("q25-6a", "qwen2_5_vl", "None", QWEN, [], []),
    ("q25-6b", "qwen2_5_vl", "There is no such object.", QWEN, [], []),
    # §2.2 VLM-R1
    (
        "r1-1",
        "vlm_r1",
        '<think>The man wearing red is on the left.</think><answer>```json\n[{"bbox_2d": [200, 170, 357, 333], "label": "man in red"}]\n```</answer>',
        QWEN,
        [MAN],
        ["man in red"],
    ),
    ("r1-2", "vlm_r1", '<think>…</think> <answer>{"bbox_2d": [200,170,357,333]}</answer>', QWEN, [MAN], [None]),
    ("r1-3", "vlm_r1", "<think>…</think><answer>[200, 170, 357, 333]</answer>", QWEN, [MAN], [None]),
    # §2.3 Qwen3-VL
    ("q3-1", "qwen3_vl", '[{"bbox_2d": [312, 406, 555, 781], "label": "man"}]', PLAIN, [MAN_1000], ["man"]),
    # §2.4 Qwen2-VL
    (
        "q2-1",
        "qwen2_vl",
        "<|object_ref_start|>man in red<|object_ref_end|><|box_start|>(312,406),(555,781)<|box_end|><|im_end|>",
        PLAIN,
        [MAN_1000],
        ["man in red"],
    ),
    ("q2-2", "qwen2_vl", "man in red(312,406),(555,781)", PLAIN, [MAN_1000], ["man in red"]),
    # §2.5 InternVL
    ("ivl-1", "internvl", "<ref>man in red</ref><box>[[312, 406, 555, 781]]</box>", PLAIN, [MAN_1000], ["man in red"]),
    ("ivl-2", "internvl", "[[312,406,555,781]]", PLAIN, [MAN_1000], [None]),
    (
        "ivl-3",
        "internvl",
        "<ref>cups</ref><box>[[19, 539, 153, 972], [312, 406, 555, 781]]</box>",
        PLAIN,
        [[12.16, 230.15, 97.92, 415.04], MAN_1000],
        ["cups", "cups"],
    ),
    ("ivl-4", "internvl", '```json [{"bbox_2d": [312, 406, 555, 781], "label": "man"}]```', PLAIN, [MAN_1000], ["man"]),
    # §2.6 Kosmos-2
    (
        "kos-1",
        "kosmos2",
        "<phrase>the man in red</phrase><object><patch_index_0389><patch_index_0758></object>",
        PLAIN,
        [[110.00, 166.80, 450.00, 313.58]],
        ["the man in red"],
    ),
    (
        "kos-2",
        "kosmos2",
        "<phrase>a cup</phrase><object><patch_index_0004><patch_index_0036></object>",
        PLAIN,
        [[80.00, 0.00, 100.00, 26.69]],
        ["a cup"],
    ),
    (
        "kos-3",
        "kosmos2",
        "<phrase>dogs</phrase><object><patch_index_0389><patch_index_0758></delimiter_of_multi_objects/><patch_index_0004><patch_index_0036></object>",
        PLAIN,
        [[110.00, 166.80, 450.00, 313.58], [80.00, 0.00, 100.00, 26.69]],
        ["dogs", "dogs"],
    ),
    ("kos-4", "kosmos2", "<grounding> Question: … Answer: It is the man", PLAIN, [], []),
    # §2.7 Florence-2
    (
        "flo-1",
        "florence2",
        "</s><s>the man in red<loc_312><loc_406><loc_555><loc_781></s>",
        PLAIN,
        [[200.00, 173.58, 355.52, 333.70]],
        ["the man in red"],
    ),
    (
        "flo-2",
        "florence2",
        "person<loc_312><loc_406><loc_555><loc_781>person<loc_19><loc_539><loc_153><loc_972>",
        PLAIN,
        [[200.00, 173.58, 355.52, 333.70], [12.48, 230.37, 98.24, 415.26]],
        ["person", "person"],
    ),
    # §2.8 Shikra (S = 640, pady = 106)
    ("shk-1", "shikra", "Answer: [0.312,0.406,0.555,0.781] .", PLAIN, [[199.68, 153.84, 355.20, 393.84]], [None]),
    (
        "shk-2",
        "shikra",
        "The man in red [0.312,0.406,0.555,0.781] is holding a cup [0.030,0.410,0.240,0.730].",
        PLAIN,
        [[199.68, 153.84, 355.20, 393.84], [19.2, 156.4, 153.6, 361.2]],
        ["The man in red", "a cup"],
    ),
    (
        "shk-3",
        "shikra",
        "Answer: [0.312,0.406,0.555,0.781;0.030,0.410,0.240,0.730] .",
        PLAIN,
        [[199.68, 153.84, 355.20, 393.84], [19.2, 156.4, 153.6, 361.2]],
        [None, None],
    ),
    ("shk-4", "shikra", "Answer: [0.312, 0.406, 0.555, 0.781]", PLAIN, [[199.68, 153.84, 355.20, 393.84]], [None]),
    # §2.9 MiniGPT-v2
    ("mgp-1", "minigpt_v2", "{<31><40><55><78>}", PLAIN, [[198.4, 170.8, 352.0, 333.06]], [None]),
    ("mgp-2", "minigpt_v2", "<p>man in red</p> {<31><40><55><78>}", PLAIN, [[198.4, 170.8, 352.0, 333.06]], ["man in red"]),
    (
        "mgp-3",
        "minigpt_v2",
        "<p>cups</p> {<3><54><15><97>}<delim>{<31><40><55><78>}",
        PLAIN,
        [[19.2, 230.58, 96.0, 414.19], [198.4, 170.8, 352.0, 333.06]],
        ["cups", "cups"],
    ),
    # §2.10 Ferret: Ferret's scorer truncates to whole pixels
    ("fer-1", "ferret", "the man in red [312, 406, 555, 781].", PLAIN, [[199, 173, 355, 333]], ["the man in red"]),
    # §2.11 CogVLM-grounding
    ("cog-1", "cogvlm", "[[312,406,555,781]]", PLAIN, [MAN_1000], [None]),
    (
        "cog-2",
        "cogvlm",
        "The cups[[003,539,015,972;312,406,555,781]] are on the table.",
        PLAIN,
        [[1.92, 230.15, 9.6, 415.04], MAN_1000],
        ["The cups", "The cups"],
    ),
]


@pytest.mark.parametrize("case, fmt, text, frame, boxes, labels", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_worked_example(case, fmt, text, frame, boxes, labels):
    r = FORMATS[fmt].parse(text, frame)
    assert r.status == ParseStatus.OK, r.reason
    assert len(r.boxes) == len(boxes)
    for got, want in zip(r.boxes, boxes):
        assert list(got.box) == pytest.approx(want, abs=0.01)
    assert [b.label for b in r.boxes] == labels


@pytest.mark.parametrize(
    "fmt, text, frame, why",
    [
        ("vlm_r1", "<think>… I think it is the man</think>", QWEN, "no <answer>"),  # §2.2 example 4
        ("minigpt_v2", "{<31><40><55>", PLAIN, "incomplete"),  # §2.9 example 4
        ("qwen2_5_vl", '```json\n[{"bbox_2d": [200, 1', QWEN, "cut off"),
        ("qwen2_5_vl", "<think>the man on the", QWEN, "inside <think>"),
        ("qwen2_vl", "<|object_ref_start|>man<|object_ref_end|><|box_start|>(312,40", PLAIN, "box_start"),
        ("kosmos2", "<phrase>a man</phrase><object><patch_index_0389>", PLAIN, "not closed"),
        ("internvl", "<ref>a man</ref><box>[[312, 406, 5", PLAIN, "not closed"),
        ("cogvlm", "The cups[[003,539,0", PLAIN, "unclosed"),
    ],
)
def test_cut_off_output_is_a_failed_parse(fmt, text, frame, why):
    r = FORMATS[fmt].parse(text, frame)
    assert r.status == ParseStatus.FAILED and not r.boxes
    assert why in r.reason


def test_qwen25_resized_sizes_from_the_doc():
    assert smart_resize(427, 640) == (420, 644)
    assert smart_resize(3000, 4000) == (2996, 4004)
    assert smart_resize(3000, 4000, max_pixels=1280 * 28 * 28) == (840, 1148)


def test_qwen25_needs_the_input_size():
    r = FORMATS["qwen2_5_vl"].parse('{"bbox_2d": [1, 2, 3, 4]}', PLAIN)
    assert r.status == ParseStatus.FAILED and "model-input size" in r.reason


def test_leading_zeros_are_decimal_not_octal():
    r = FORMATS["cogvlm"].parse("[[086,010,400,760]]", Frame(1000, 1000))
    assert list(r.boxes[0].box) == [86.0, 10.0, 400.0, 760.0]
    r = FORMATS["minigpt_v2"].parse("{<08><09><010><099>}", Frame(100, 100))
    assert list(r.boxes[0].box) == [8.0, 9.0, 10.0, 99.0]


def test_boxes_are_clipped_and_swapped_everywhere():
    frame = Frame(100, 50)
    assert list(FORMATS["qwen3_vl"].parse('{"bbox_2d": [1200, 900, -100, 100]}', frame).boxes[0].box) == [0.0, 5.0, 100.0, 45.0]
    assert list(FORMATS["internvl"].parse("<box>[[900, 800, 100, 200]]</box>", frame).boxes[0].box) == pytest.approx(
        [10, 10, 90, 40]
    )


def test_kosmos_rule_cell_centres_vs_full_cells():
    from padt_eval.models.coords.kosmos2 import patch_box

    c = 1 / 32
    assert patch_box(33, 33) == (1 * c, 1 * c, 2 * c, 2 * c)  # same cell: the full cell
    assert patch_box(33, 40) == (1 * c, 1 * c, 9 * c, 2 * c)  # same row: full cells
    assert patch_box(33, 33 + 64) == (1 * c, 1 * c, 2 * c, 4 * c)  # same column: full cells
    assert patch_box(33, 33 + 65) == (1.5 * c, 1.5 * c, 2.5 * c, 3.5 * c)  # otherwise: centres
