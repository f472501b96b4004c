"""Caption metrics as pycocoevalcap computes them, the implementation COCO captioning numbers come from.

BLEU-1..4, METEOR, ROUGE-L and CIDEr-D (pycocoevalcap's `Cider` is the CIDEr-D variant:
clipped n-gram counts and a Gaussian length penalty, sigma 6), each over the whole split
(they are corpus-level: CIDEr's IDF comes from the split's references, BLEU sums n-gram
counts over it), on text tokenised by the Stanford PTB tokenizer that ships with
pycocoevalcap. SPICE runs only when its Stanford CoreNLP 3.6.0 jars are in
`pycocoevalcap/spice/lib/` (pycocoevalcap would otherwise try to download them);
otherwise it is reported as null with the reason, never as 0.

What differs from calling each scorer the usual way is the plumbing and, for three
scorers, the data structures; the numbers are pycocoevalcap's (tests compare each with a
direct call, to 1e-12):

* each side is tokenised in **one** PTBTokenizer run for all metrics (not once per side
  per metric), the two runs in parallel;
* METEOR: pycocoevalcap's jar, one process per Python process, started as soon as the
  RIC metric is built, so that its paraphrase table loads while the split is read and
  tokenised; it scores in a thread while the other metrics are computed
  (`metrics/meteor.py`);
* BLEU and CIDEr-D count n-grams once for both, as arrays over the whole set
  (`metrics/ngrams.py`, `metrics/bleu.py`, `metrics/cider_d.py`), instead of a dict per
  sentence walked in Python;
* ROUGE-L's longest common subsequence is found by a bit-parallel algorithm
  (`metrics/rouge_l.py`; the lengths are integers, so the scores are equal bit for bit).

Java is required (`apt-get install -y default-jre-headless`); without it the metric
fails up front with that command in the message.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from padt_eval.metrics.java import JavaMissingError, java_tool_failed, require_java
from padt_eval.metrics.meteor import meteor_score, shared_meteor

__all__ = ["CAPTION_KEYS", "JavaMissingError", "ptb_tokenize", "require_java", "score_captions", "shared_meteor", "spice_status"]

CAPTION_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider_d", "spice")
_LINE_BREAKS = str.maketrans({c: " " for c in "\n\r\x0b\x0c\x85\u2028\u2029"})


def _package_dir(sub: str) -> Path:
    import pycocoevalcap

    return Path(list(pycocoevalcap.__path__)[0]) / sub


def spice_status() -> tuple[bool, str]:
    """(available, reason). SPICE needs Stanford CoreNLP 3.6.0, which no package registry ships."""
    lib = _package_dir("spice") / "lib"
    missing = [j for j in ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar") if not (lib / j).is_file()]
    if missing:
        return False, (
            f"SPICE needs {', '.join(missing)} in {lib} (Stanford CoreNLP 3.6.0, from stanford-corenlp-full-2015-12-09.zip); "
            "pycocoevalcap would download them at run time and no package registry carries them"
        )
    return True, "available"


def ptb_tokenize(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[dict, dict]:
    """PTB-tokenise each side in one tokenizer run → ({i: [cand]}, {i: [refs...]}), keys 0..n-1.

    The two sides must not share a run: the Stanford tokenizer reads a line's end with the
    next line in view (whether "a." closes a sentence or is an abbreviation), so a line's
    tokens depend on its neighbours. One run for all references and one for all
    candidates, in the same order, is exactly what pycocoevalcap's own evaluation does.
    Both runs go at once (two JVMs, two cores)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    require_java()
    refs = {i: [{"caption": r.translate(_LINE_BREAKS)} for r in rs] for i, rs in enumerate(references)}
    cands = {i: [{"caption": c.translate(_LINE_BREAKS)}] for i, c in enumerate(candidates)}
    box: dict[str, Any] = {}

    def run(name: str, captions: dict) -> None:
        try:
            box[name] = PTBTokenizer().tokenize(captions)
        except BaseException as exc:  # re-raised below
            box["error"] = exc

    t = threading.Thread(target=run, args=("refs", refs), daemon=True)
    t.start()
    run("cands", cands)
    t.join()
    if "error" in box:
        raise java_tool_failed("PTB tokenizer", box["error"]) from None
    if len(box["cands"]) != len(cands) or len(box["refs"]) != len(refs):  # java died part way
        raise java_tool_failed("PTB tokenizer", RuntimeError(f"{len(box['cands'])} of {len(cands)} captions came back"))
    return box["cands"], box["refs"]


def score_captions(
    candidates: Sequence[str], references: Sequence[Sequence[str]], *, spice: bool | None = None
) -> dict[str, Any]:
    """Corpus-level caption metrics. `candidates[i]` is scored against `references[i]`.

    Returns the `CAPTION_KEYS` values (fractions; CIDEr-D is not bounded by 1) plus
    `spice_reason` when SPICE is unavailable or off. `spice=None` runs it when available.
    """
    from padt_eval.metrics.bleu import bleu
    from padt_eval.metrics.cider_d import cider_d
    from padt_eval.metrics.ngrams import ngram_table
    from padt_eval.metrics.rouge_l import rouge_l

    if len(candidates) != len(references):
        raise ValueError("one list of references per candidate")
    if any(len(r) == 0 for r in references):
        raise ValueError("every candidate needs at least one reference")
    meteor = shared_meteor()  # JVM starts loading now if it has not yet
    res, gts = ptb_tokenize(candidates, references)
    out: dict[str, Any] = {}
    if not res:
        return {**{k: None for k in CAPTION_KEYS}, "spice_reason": "no captions"}
    box: dict[str, Any] = {}

    def run_meteor() -> None:
        try:
            box["meteor"] = meteor_score(meteor, gts, res)[0]
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=run_meteor, daemon=True)
    t.start()
    table = ngram_table(gts, res)  # shared by BLEU and CIDEr-D
    out.update({f"bleu{k + 1}": float(v) for k, v in enumerate(bleu(gts, res, table)[0])})
    out["rouge_l"] = float(rouge_l(gts, res)[0])
    out["cider_d"] = float(cider_d(gts, res, table)[0])
    del table
    t.join()
    if "error" in box:
        raise java_tool_failed("METEOR scorer", box["error"]) from None
    out["meteor"] = float(box["meteor"])
    available, reason = spice_status()
    if spice is None:
        spice = available
    if spice and available:
        from pycocoevalcap.spice.spice import Spice

        out["spice"] = float(Spice().compute_score(gts, res)[0])
    else:
        out["spice"] = None
        out["spice_reason"] = reason if not available else "turned off"
    return {k: out[k] for k in CAPTION_KEYS} | ({"spice_reason": out["spice_reason"]} if "spice_reason" in out else {})
