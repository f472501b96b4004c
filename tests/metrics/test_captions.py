"""Caption metrics equal direct pycocoevalcap calls; the RIC metric merges exactly; SPICE and
Java absence are reported, never silently zero. One METEOR JVM for the whole test session
(`shared_meteor`), since starting it costs 10-20 s."""

from __future__ import annotations

import random

import pytest

from padt_eval.core.types import GroundTruthObject, ImageRef, ObjectPred, ParseStatus, Prediction, Sample, Task
from padt_eval.metrics import meteor
from padt_eval.metrics.captions import JavaMissingError, score_captions, shared_meteor
from padt_eval.metrics.ric import RicMetric

WORDS = (
    "a the man dog cat red blue sits on near table grass with holding small large two people T-shirt can't U.S. (left)".split()
)


@pytest.fixture(scope="module")
def captions_set():
    rng = random.Random(4)

    def sent():
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
        return s[0].upper() + s[1:] + rng.choice([".", "!", ""])

    refs = [[sent() for _ in range(rng.randint(3, 5))] for _ in range(40)]
    cands = [rng.choice(r) if rng.random() < 0.3 else sent() for r in refs]
    cands[5] = ""  # a sample without an answer
    return cands, refs


def direct(cands, refs):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": c}] for i, c in enumerate(cands)})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"bleu{k + 1}": v for k, v in enumerate(bleu)}
    out["meteor"] = shared_meteor().compute_score(gts, res)[0]  # pycocoevalcap's own method
    out["rouge_l"] = Rouge().compute_score(gts, res)[0]
    out["cider_d"] = Cider().compute_score(gts, res)[0]
    return out


def test_equal_to_direct_pycocoevalcap(captions_set):
    cands, refs = captions_set
    got = score_captions(cands, refs)
    want = direct(cands, refs)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    assert 0 < got["bleu4"] < got["bleu1"] < 1 and got["cider_d"] > 0
    assert got["spice"] is None and "stanford-corenlp-3.6.0" in got["spice_reason"]


def _pairs(cands, refs):
    pairs = []
    for i, (c, rs) in enumerate(zip(cands, refs)):
        s = Sample(
            str(i), Task.RIC, ImageRef("/x.png", 100, 100), references=rs, objects=[GroundTruthObject(bbox=[0, 0, 50, 50])]
        )
        # the model wraps its caption in PaDT's VRT syntax; the metric must see the words only
        text = c.replace(" ", " (<|VRT_1|><|VRT_2|>) ", 1) if c else c
        status = ParseStatus.FAILED if i == 7 else ParseStatus.OK
        pairs.append((s, Prediction(str(i), text=text, objects=[ObjectPred(bbox=[0, 0, 50, 40])], parse_status=status)))
    return pairs


def test_ric_metric_scores_cleaned_text_and_merges_exactly(captions_set):
    cands, refs = captions_set
    pairs = _pairs(cands, refs)
    whole = RicMetric()
    recs = [whole.update(s, p) for s, p in pairs]
    assert recs[0]["candidate"] == cands[0].strip() or "<|VRT" not in recs[0]["candidate"]
    got = whole.compute()
    expected_cands = [c if i != 7 else "" for i, c in enumerate(cands)]  # a failed parse scores the empty caption
    want = direct(expected_cands, refs)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-12), k
    assert got["gp"] == 39 / 39 and got["gr"] == 39 / 40
    reordered = RicMetric()  # odd samples first: scored in sample-id order all the same
    for s, p in pairs[1::2] + pairs[::2]:
        reordered.update(s, p)
    assert reordered.compute() == got and reordered.counts() == whole.counts()
    assert any("SPICE not computed" in n for n in whole.notes())


def test_no_java_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java anywhere
    with pytest.raises(JavaMissingError) as e:
        RicMetric()
    assert "apt-get install -y default-jre-headless" in str(e.value)
    monkeypatch.setattr(meteor, "_meteor", None)
    with pytest.raises(JavaMissingError):
        score_captions(["a cat"], [["a cat"]])


def test_each_side_is_tokenised_in_its_own_run():
    """The Stanford tokenizer looks at the next line to decide whether "a." ends a sentence,
    so mixing candidates and references in one run would change tokens (seen on 5 of 1,500)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from padt_eval.metrics.captions import ptb_tokenize

    cands = [
        "Sky under sky on table umbrella a a.",
        "Holds pizza holds large  Blue man sits in a.",
        "Group child holds green sits group two.",
    ]
    refs = [["A cat.", "Man sits in a."], ["Two dogs a.", "Dog."], ["A b."]]
    res, gts = ptb_tokenize(cands, refs)
    tok = PTBTokenizer()
    assert gts == tok.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    assert res == tok.tokenize({i: [{"caption": c}] for i, c in enumerate(cands)})


def test_meteor_started_with_jvm_options_scores_as_pycocoevalcaps_own(captions_set):
    """The shared METEOR process (serial collector, SCORE lines pipelined) gives what a plain
    pycocoevalcap `Meteor()` gives, overall and per image."""
    from pycocoevalcap.meteor.meteor import Meteor

    from padt_eval.metrics.captions import ptb_tokenize
    from padt_eval.metrics.meteor import JVM_OPTIONS, meteor_score

    cands, refs = captions_set
    res, gts = ptb_tokenize(cands, refs)
    ours = shared_meteor()
    assert all(o in ours.meteor_cmd for o in JVM_OPTIONS)
    plain = Meteor()
    try:
        want = plain.compute_score(gts, res)
    finally:
        del plain
    assert meteor_score(ours, gts, res) == want
