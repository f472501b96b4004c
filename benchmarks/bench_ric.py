"""RIC caption scoring speed: padt-eval against the lmms-eval way of calling pycocoevalcap.

Synthetic captions (default 5,000 images, 5 references each, one candidate each) are
scored twice in the same process, each starting from plain strings:

* anchor, as lmms-eval's `coco_cap` task does it: one aggregation per reported metric
  (BLEU-1, -2, -3, -4, METEOR, ROUGE-L, CIDEr); each builds the scorer list (`Bleu(4)` x4,
  `Meteor()`, `Rouge()`, `Cider()` — so a METEOR JVM starts every time), tokenises
  references and candidates with its own PTBTokenizer runs, and computes its one metric;
* ours: `score_captions` — one tokenizer run per side (in parallel), one METEOR process started
  once (its time is included), METEOR in a thread beside BLEU, ROUGE-L and CIDEr-D.

The metric values must be identical. Usage: python benchmarks/bench_ric.py [--small]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from padt_eval.metrics.captions import score_captions  # noqa: E402

WORDS = (
    "a an the man woman child dog cat horse bus car train red blue green white black large small wooden "
    "sits stands walks rides holds looks at on in near next to under behind with table chair street grass "
    "field kitchen plate pizza umbrella bench sky building two three people group of"
).split()
LMMS_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
OUR_KEYS = {
    "Bleu_1": "bleu1",
    "Bleu_2": "bleu2",
    "Bleu_3": "bleu3",
    "Bleu_4": "bleu4",
    "METEOR": "meteor",
    "ROUGE_L": "rouge_l",
    "CIDEr": "cider_d",
}


def make(n: int, seed: int = 0):
    rng = random.Random(seed)

    def sentence() -> str:
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(7, 16)))
        return s[0].upper() + s[1:] + rng.choice([".", ".", " .", "!"])

    refs = [[sentence() for _ in range(5)] for _ in range(n)]
    cands = [rng.choice(r)[: rng.randint(20, 60)] + " " + sentence() if rng.random() < 0.6 else sentence() for r in refs]
    return cands, refs


def lmms_eval_way(cands, refs) -> tuple[dict, float]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    t = time.perf_counter()
    out = {}
    for metric in LMMS_METRICS:
        scorers = [
            (Bleu(4), "Bleu_1"),
            (Bleu(4), "Bleu_2"),
            (Bleu(4), "Bleu_3"),
            (Bleu(4), "Bleu_4"),
            (Meteor(), "METEOR"),
            (Rouge(), "ROUGE_L"),
            (Cider(), "CIDEr"),
        ]
        by_name = {name: s for s, name in scorers}
        gts = {i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)}
        res = {i: [{"caption": c}] for i, c in enumerate(cands)}
        tok = PTBTokenizer()
        gts, res = tok.tokenize(gts), tok.tokenize(res)
        scorer = by_name[metric]
        score, _ = scorer.compute_score(gts, res, verbose=0) if metric.startswith("Bleu") else scorer.compute_score(gts, res)
        out[metric] = score[int(metric[-1]) - 1] if metric.startswith("Bleu") else score
        del scorers, by_name, scorer
        gc.collect()  # lmms-eval drops its scorers (and their METEOR JVMs) when the function returns
    return out, time.perf_counter() - t


def ours(cands, refs) -> tuple[dict, float]:
    t = time.perf_counter()
    out = score_captions(cands, refs, spice=False)
    return out, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="500 images instead of 5,000")
    args = ap.parse_args()
    n = 500 if args.small else 5000
    cands, refs = make(n)
    print(f"data: {n} images, {sum(map(len, refs))} references, {n} candidates")
    got, t_ours = ours(cands, refs)
    want, t_anchor = lmms_eval_way(cands, refs)
    diff = max(abs(got[OUR_KEYS[k]] - float(v)) for k, v in want.items())
    print(f"lmms-eval way (7 aggregations)  : {t_anchor:8.2f} s")
    print(f"padt-eval score_captions        : {t_ours:8.2f} s (METEOR JVM start included)")
    print(f"speed-up                        : {t_anchor / t_ours:8.2f}x (target >= 3x)")
    print(f"max |diff| over 7 metrics: {diff:.3g} ({'identical' if diff == 0 else 'DIFFERENT'})")
    print("values: " + ", ".join(f"{OUR_KEYS[k]}={float(v):.4f}" for k, v in want.items()))
    return 0 if diff <= 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
