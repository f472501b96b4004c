"""Task rules on parsed text: REC takes the first box only, OVD keeps all, RIC grounds phrases and cleans the caption."""

from __future__ import annotations

from padt_eval.core import rle
from padt_eval.core.answer_rule import ANSWER_RULE
from padt_eval.core.types import ParseStatus, Task
from padt_eval.models.coords import FORMATS, Frame
from padt_eval.models.text_rules import prediction_from_text

F = Frame(640, 427)
TWO = '[{"bbox_2d": [312, 406, 555, 781], "label": "man"}, {"bbox_2d": [19, 539, 153, 972], "label": "cup"}]'


def test_rec_and_res_keep_only_the_first_box_whatever_the_scores():
    scores = {0: -5.0, 1: -0.1}
    order = []

    def score_of(span):
        order.append(span)
        return scores[len(order) - 1]

    for task in (Task.REC, Task.RES):
        order.clear()
        p = prediction_from_text("s", task, TWO, FORMATS["qwen3_vl"], F, score_of=score_of)
        assert len(p.objects) == 1 and p.objects[0].label == "man"  # first, though the second scores higher
        assert p.meta["n_boxes_parsed"] == 2 and p.meta["selection"] == ANSWER_RULE
        assert p.objects[0].mask is None


def test_ovd_keeps_every_box_with_label_and_score():
    p = prediction_from_text("s", Task.OVD, TWO, FORMATS["qwen3_vl"], F, score_of=lambda span: -float(span[0]))
    assert [o.label for o in p.objects] == ["man", "cup"]
    assert all(o.score is not None and o.score <= 0 for o in p.objects)
    assert p.objects[0].score > p.objects[1].score


def test_ric_grounds_phrases_and_cleans_the_caption():
    text = "In this image, a cat ([312, 406, 555, 781]) is sitting on the wooden table ([19, 539, 153, 972]), next to a cup."
    p = prediction_from_text("s", Task.RIC, text, FORMATS["qwen3_vl"], F)
    assert [o.label for o in p.objects] == ["a cat", "the wooden table"]
    assert p.meta["caption"] == "In this image, a cat is sitting on the wooden table, next to a cup."
    assert p.text == text


def test_ric_captions_of_each_grounded_form():
    cases = {
        "internvl": (
            "<ref>A dog</ref><box>[[1, 2, 300, 400]]</box> chases <ref>a ball</ref><box>[[500, 500, 600, 600]]</box>.",
            "A dog chases a ball.",
        ),
        "kosmos2": (
            "<grounding> An image of<phrase> a snowman</phrase><object><patch_index_0044><patch_index_0863></object> warming himself by<phrase> a fire</phrase><object><patch_index_0005><patch_index_0911></object>.",
            "An image of a snowman warming himself by a fire.",
        ),
        "qwen2_vl": (
            "<|object_ref_start|>A dog<|object_ref_end|><|box_start|>(1,2),(300,400)<|box_end|> runs.<|im_end|>",
            "A dog runs.",
        ),
        "minigpt_v2": ("<p>A dog</p> {<1><2><30><40>} runs on <p>the grass</p> {<0><50><100><100>}.", "A dog runs on the grass."),
        "florence2": ("</s><s>A dog<loc_1><loc_2><loc_300><loc_400> runs</s>", "A dog runs"),
        "shikra": ("A dog [0.001,0.002,0.300,0.400] runs.", "A dog runs."),
        "ferret": ("A dog [1, 2, 300, 400] runs.", "A dog runs."),
        "cogvlm": ("A dog[[001,002,300,400]] runs.", "A dog runs."),
    }
    for name, (text, caption) in cases.items():
        p = prediction_from_text("s", Task.RIC, text, FORMATS[name], F)
        assert p.meta["caption"] == caption, name
        assert p.objects and p.objects[0].label in ("A dog", "a snowman"), (name, p.objects)


def test_ric_keeps_a_caption_whose_last_box_was_cut_off():
    p = prediction_from_text("s", Task.RIC, "A dog runs on <ref>the grass</ref><box>[[0, 500", FORMATS["internvl"], F)
    assert p.parse_status == ParseStatus.OK and p.meta["caption"] == "A dog runs on the grass" and not p.objects
    assert "not closed" in p.parse_reason


def test_failed_parse_and_parser_errors_become_failed_predictions():
    p = prediction_from_text("s", Task.REC, "{<31><40><55>", FORMATS["minigpt_v2"], F)
    assert p.parse_status == ParseStatus.FAILED and not p.objects

    from dataclasses import replace

    def boom(text, frame):
        raise RuntimeError("bug")

    p = prediction_from_text("s", Task.REC, "x", replace(FORMATS["ferret"], parse=boom), F)
    assert p.parse_status == ParseStatus.FAILED and "parser error (RuntimeError: bug)" in p.parse_reason


def test_florence_res_polygons_become_a_mask():
    # a square polygon from (100, 100) to (300, 300) bins on a 1000x1000 image
    text = "</s><s><loc_100><loc_100><loc_300><loc_100><loc_300><loc_300><loc_100><loc_300></s>"
    p = prediction_from_text("s", Task.RES, text, FORMATS["florence2"], Frame(1000, 1000))
    obj = p.objects[0]
    assert obj.mask is not None and obj.bbox == [100.5, 100.5, 300.5, 300.5]
    assert abs(rle.area(obj.mask) - 200 * 200) < 2 * 200 * 2


def test_ric_caption_is_the_answer_not_the_reasoning():
    text = "<think>a cat ([1, 2, 3, 4]) maybe</think><answer>A dog ([312, 406, 555, 781]) runs.</answer>"
    p = prediction_from_text("s", Task.RIC, text, FORMATS["vlm_r1"], Frame(640, 427, 644, 420))
    assert p.meta["caption"] == "A dog runs."
    assert [o.label for o in p.objects] == ["A dog"]
