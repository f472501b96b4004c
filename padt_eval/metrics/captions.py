"""Caption metrics with pycocoevalcap, the implementation COCO captioning numbers come from.

BLEU-1..4, METEOR, ROUGE-L and CIDEr-D (pycocoevalcap's `Cider` is the CIDEr-D variant:
clipped n-gram counts and a Gaussian length penalty, sigma 6), each over the whole split
(they are corpus-level: CIDEr's IDF comes from the split's references, BLEU sums n-gram
counts over it), on text tokenised by the Stanford PTB tokenizer that ships with
pycocoevalcap. SPICE runs only when its Stanford CoreNLP 3.6.0 jars are in
`pycocoevalcap/spice/lib/` (pycocoevalcap would otherwise try to download them);
otherwise it is reported as null with the reason, never as 0.

What differs from calling each scorer the usual way is only the plumbing, so the numbers
are identical (tests compare against direct calls):

* each side is tokenised in **one** PTBTokenizer run for all metrics (not once per side
  per metric), the two runs in parallel;
* the METEOR jar is started **once per process** and kept (loading its paraphrase table
  takes 10-20 s); it starts in the background as soon as a RIC metric sees its first
  sample, and its SCORE requests are written by a second thread instead of one blocking
  round trip per image — the jar's protocol and numbers are unchanged;
* METEOR runs in that thread while BLEU, ROUGE-L and CIDEr-D are computed;
* ROUGE-L's longest common subsequence is found by a bit-parallel algorithm
  (`metrics/rouge_l.py`, about 10x faster than pycocoevalcap's Python table; the
  lengths are integers, so the scores are equal bit for bit).

Java is required (`apt-get install -y default-jre-headless`); without it the metric
fails up front with that command in the message.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from padt_eval.core.errors import PadtEvalError

JAVA_INSTALL = "apt-get install -y default-jre-headless"
CAPTION_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "meteor", "rouge_l", "cider_d", "spice")
_LINE_BREAKS = str.maketrans({c: " " for c in "\n\r\x0b\x0c\x85\u2028\u2029"})


class JavaMissingError(PadtEvalError):
    """The caption metrics need a Java runtime."""


class JavaFailedError(JavaMissingError):
    """The Java runtime on PATH does not run, or a caption tool in it failed."""


_working_java: set[str] = set()  # java binaries that answered `-version` in this process


def require_java() -> str:
    """The `java` on PATH, checked once to run: pycocoevalcap reads no exit status, so a
    broken Java otherwise surfaces later as an unrelated error (an empty sequence, a
    float('') ...)."""
    java = shutil.which("java")
    if java is None:
        raise JavaMissingError(
            "the caption metrics (PTB tokenizer, METEOR) need Java, and no `java` is on PATH. "
            f"Install it with `{JAVA_INSTALL}` (Debian/Ubuntu; `make install` does this), then run again."
        )
    if java not in _working_java:
        import subprocess

        try:
            done = subprocess.run([java, "-version"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise JavaFailedError(f"the caption metrics need a working Java, and `{java} -version` fails: {exc}") from None
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-300:]
            raise JavaFailedError(
                f"the caption metrics need a working Java, and `{java} -version` exits with code {done.returncode}"
                + (f": {tail}" if tail else "")
                + f". Fix or remove that java (or put a working one first on PATH; `{JAVA_INSTALL}`), then run again."
            )
        _working_java.add(java)
    return java


def _java_tool_failed(tool: str, exc: BaseException) -> JavaFailedError:
    return JavaFailedError(f"the {tool} (Java, `{shutil.which('java')}`) failed: {type(exc).__name__}: {exc}")


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


# -- METEOR: one process per Python process ------------------------------------------------
_meteor = None
_meteor_guard = threading.Lock()


def shared_meteor():
    """pycocoevalcap's `Meteor`, created on first use and reused (its JVM loads in the background)."""
    global _meteor
    with _meteor_guard:
        if _meteor is None or _meteor.meteor_p.poll() is not None:
            require_java()
            from pycocoevalcap.meteor.meteor import Meteor

            _meteor = Meteor()
        return _meteor


def meteor_score(meteor, gts: dict, res: dict) -> tuple[float, list[float]]:
    """`Meteor.compute_score(gts, res)` with the SCORE lines written by a second thread.

    Same jar, same lines, same EVAL request as pycocoevalcap; only the per-image round trip
    is gone (pycocoevalcap waits for each answer before sending the next request)."""
    ids = list(gts.keys())
    lines = []
    for i in ids:
        hyp = res[i][0].replace("|||", "").replace("  ", " ")
        lines.append(("SCORE ||| " + " ||| ".join(gts[i]) + " ||| " + hyp + "\n").encode())
    proc = meteor.meteor_p
    with meteor.lock:
        errors: list[BaseException] = []

        def write() -> None:
            try:
                for line in lines:
                    proc.stdin.write(line)
                proc.stdin.flush()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        stats = [proc.stdout.readline().decode().strip() for _ in lines]
        writer.join()
        if errors:
            raise errors[0]
        proc.stdin.write(("EVAL" + "".join(f" ||| {s}" for s in stats) + "\n").encode())
        proc.stdin.flush()
        scores = [float(proc.stdout.readline().strip()) for _ in lines]
        score = float(proc.stdout.readline().strip())
    return score, scores


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
        raise _java_tool_failed("PTB tokenizer", box["error"]) from None
    if len(box["cands"]) != len(cands) or len(box["refs"]) != len(refs):  # java died part way
        raise _java_tool_failed("PTB tokenizer", RuntimeError(f"{len(box['cands'])} of {len(cands)} captions came back"))
    return box["cands"], box["refs"]


def score_captions(
    candidates: Sequence[str], references: Sequence[Sequence[str]], *, spice: bool | None = None
) -> dict[str, Any]:
    """Corpus-level caption metrics. `candidates[i]` is scored against `references[i]`.

    Returns the `CAPTION_KEYS` values (fractions; CIDEr-D is not bounded by 1) plus
    `spice_reason` when SPICE is unavailable or off. `spice=None` runs it when available.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

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
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out.update({f"bleu{k + 1}": float(v) for k, v in enumerate(bleu)})
    out["rouge_l"] = float(rouge_l(gts, res)[0])
    out["cider_d"] = float(Cider().compute_score(gts, res)[0])
    t.join()
    if "error" in box:
        raise _java_tool_failed("METEOR scorer", box["error"]) from None
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
