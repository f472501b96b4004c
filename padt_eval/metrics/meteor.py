"""METEOR 1.5 through pycocoevalcap's jar: one JVM per Python process, started early.

pycocoevalcap's `Meteor()` starts `java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm`
and loads its English paraphrase table (tens of seconds of CPU), then `compute_score`
sends one SCORE line per image and waits for each answer before the next. Here:

* the same jar, arguments and protocol, with one JVM option added:
  `-XX:+UseSerialGC`. The JVM otherwise picks G1, whose concurrent collector threads
  compete with the tokenizer JVMs and Python for the same cores while the table loads;
  the serial collector needs less CPU in all (24 s against 31 s measured on the 5k RIC
  case) and keeps the process at about 0.6 GB instead of 1.5 GB. The collector cannot
  change what the jar computes (tests compare with pycocoevalcap's own `Meteor()`);
* the process is started once per Python process (`shared_meteor`), by the RIC metric
  as soon as it is built, so the table loads while the split is read and tokenised;
* `meteor_score` writes the SCORE lines from a second thread while the answers are read,
  instead of one blocking round trip per image; the EVAL request is pycocoevalcap's.
"""

from __future__ import annotations

import os
import subprocess
import threading

from padt_eval.metrics.java import require_java

JVM_OPTIONS = ("-XX:+UseSerialGC",)


def _meteor_class():
    from pycocoevalcap.meteor import meteor as pycoco_meteor

    class Meteor(pycoco_meteor.Meteor):
        """pycocoevalcap's Meteor (its `compute_score`, lock and cleanup), started with
        `JVM_OPTIONS` added before the jar."""

        def __init__(self) -> None:
            self.meteor_cmd = [
                "java",
                "-jar",
                "-Xmx2G",
                *JVM_OPTIONS,
                pycoco_meteor.METEOR_JAR,
                "-",
                "-",
                "-stdio",
                "-l",
                "en",
                "-norm",
            ]
            self.meteor_p = subprocess.Popen(
                self.meteor_cmd,
                cwd=os.path.dirname(os.path.abspath(pycoco_meteor.__file__)),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            self.lock = threading.Lock()

    return Meteor


_meteor = None
_meteor_guard = threading.Lock()


def shared_meteor():
    """The process's METEOR scorer, started on first use and reused (its JVM loads in the
    background; a call returns at once)."""
    global _meteor
    with _meteor_guard:
        if _meteor is None or _meteor.meteor_p.poll() is not None:
            require_java()
            _meteor = _meteor_class()()
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
