"""The alarm checks of metrics/alarms.py: each fires on a case built for it, just past its
threshold, and stays silent just short of it."""

from __future__ import annotations

from padt_eval.metrics import alarms


def test_same_answer_fires_on_most_samples_sharing_one_answer():
    n = 40
    fired = alarms.same_answer(["[0, 0, 10, 10]"] * 20 + [f"box {i}" for i in range(20)])
    assert fired is not None and fired.name == "same_answer"
    assert fired.evidence["count"] == 20 and fired.evidence["share"] == 0.5 and fired.evidence["n_samples"] == n
    assert alarms.same_answer(["[0, 0, 10, 10]"] * 19 + [f"box {i}" for i in range(21)]) is None


def test_same_answer_counts_the_share_of_all_samples_not_of_those_with_text():
    # 21 samples say "somewhere", 221 have no text at all (boxes only): not "most samples"
    assert alarms.same_answer(["somewhere"] * 21 + [None] * 221) is None
    assert alarms.same_answer(["x"] * 10) is None  # too few samples to judge


def test_parse_failures_above_the_threshold():
    assert alarms.parse_failures(26, 100) is not None
    assert alarms.parse_failures(25, 100) is None  # at the threshold: silent
    assert alarms.parse_failures(10, 10) is None  # too few samples


def test_hit_max_new_tokens_needs_nearly_every_answer():
    fired = alarms.hit_max_tokens([True] * 27 + [False] * 3, "stopped")
    assert fired is not None and fired.evidence["field"] == "stopped" and fired.evidence["n_hit_max"] == 27
    assert alarms.hit_max_tokens([True] * 26 + [False] * 4, "stopped") is None
    # predictions that do not say are not counted either way
    assert alarms.hit_max_tokens([True] * 25 + [None] * 100, "finished") is not None


def test_image_blind_on_expressions_asked_of_several_images():
    exprs = [f"thing {i}" for i in range(12) for _ in range(3)]
    images = [f"img{j}.png" for _ in range(12) for j in range(3)]
    blind = [f"answer for {e}" for e in exprs]  # depends on the expression only
    fired = alarms.image_blind(exprs, images, blind)
    assert fired is not None and fired.evidence == {"n_groups": 12, "n_same_answer": 12, "share": 1.0, "threshold": 0.8}
    looking = [f"{a} on {img}" for a, img in zip(blind, images)]
    assert alarms.image_blind(exprs, images, looking) is None
    # 9 of 12 groups blind (75 %): below the threshold
    mixed = [b if i < 27 else f"{b} {i}" for i, b in enumerate(blind)]
    assert alarms.image_blind(exprs, images, mixed) is None


def test_untrained_weights_from_the_recorded_statistics():
    stats = {"n_matrices": 10, "n_like_init": 6, "matched": {"normal(0, initializer_range)": 6}}
    fired = alarms.untrained_weights(stats)
    assert fired is not None and "6 of 10" in fired.message and fired.evidence["n_like_init"] == 6
    assert alarms.untrained_weights({**stats, "n_like_init": 4}) is None
    assert alarms.untrained_weights(None) is None  # a predictions file: no weights to judge
