"""Start-up: the time a `padt-eval` command spends importing, this tree against another.

Each round runs the command once from each tree (`python -X importtime -m padt_eval.cli
ARGS`, a fresh process, PYTHONPATH and working directory the tree), in alternating order,
and sums the cumulative import times of the top-level imports that `-X importtime`
reports (lazy imports made during the command included). Also given: the process's CPU
time (user + system, `wait4`), and which of numpy, PIL, torch, transformers and
matplotlib it imported. Reported: each side's median [min–max] over the rounds.

    git archive main | tar -x -C /tmp/main-tree
    python benchmarks/bench_imports.py --other /tmp/main-tree -- --help
    python benchmarks/bench_imports.py --other /tmp/main-tree --rounds 3 -- ric -s SPLIT -p PREDS -o /tmp/out

`--other-path DIR` puts DIR first on the other side's PYTHONPATH: the same tree against
another version of a dependency, installed there (`pip install --no-deps --target DIR`).
What a dependency costs outside its imports (typer 0.29 builds a pydantic adapter for every
option while it parses them) shows in the process CPU time, not in the import time:

    pip install --no-deps --target /tmp/typer029 typer==0.29.2
    python benchmarks/bench_imports.py --other . --other-path /tmp/typer029 -- res -s SPLIT -p PREDS -o /tmp/out
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WATCHED = ("numpy", "PIL", "torch", "transformers", "matplotlib")


def import_seconds(stderr: str) -> tuple[float, set[str]]:
    """The sum of the top-level entries' cumulative times, and the watched packages seen."""
    total, seen = 0, set()
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if not name[1:].startswith(" "):  # depth 0: a root of the import tree
            total += int(cumulative)
        if name.strip() in WATCHED:
            seen.add(name.strip())
    return total / 1e6, seen


def run(tree: Path, args: list[str], first: Path | None = None) -> tuple[float, float, set[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (first, tree) if p is not None)}
    out = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-o", "--out")), None)
    if out:
        shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "padt_eval.cli", *args],
        cwd=tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{tree}: padt-eval {' '.join(args)} failed\n{stderr[-2000:]}")
    seconds, seen = import_seconds(stderr)
    return seconds, usage.ru_utime + usage.ru_stime, seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--other", type=Path, required=True, help="the tree to compare with (e.g. main, unpacked)")
    ap.add_argument("--other-path", type=Path, help="a folder put first on the other side's PYTHONPATH")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("args", nargs=argparse.REMAINDER, help="the padt-eval arguments, after --")
    a = ap.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    sides = {"this tree": REPO, "other": a.other.resolve()}
    imports: dict[str, list[float]] = {s: [] for s in sides}
    cpu: dict[str, list[float]] = {s: [] for s in sides}
    seen: dict[str, set[str]] = {s: set() for s in sides}
    for k in range(a.rounds):
        for side in list(sides) if k % 2 == 0 else list(sides)[::-1]:
            s, c, mods = run(sides[side], args, a.other_path if side == "other" else None)
            imports[side].append(s)
            cpu[side].append(c)
            seen[side] |= mods

    def spread(xs: list[float]) -> str:
        return f"{statistics.median(xs):.3f} [{min(xs):.3f}–{max(xs):.3f}]"

    print(f"padt-eval {' '.join(args)}  ({a.rounds} rounds)")
    for side, tree in sides.items():
        if side == "other" and a.other_path is not None:
            tree = f"{tree} (first on the path: {a.other_path})"
        print(
            f"  {side:<9} {tree}: imports {spread(imports[side])} s, process CPU {spread(cpu[side])} s; imported: {sorted(seen[side])}"
        )
    ratios = [o / t for o, t in zip(imports["other"], imports["this tree"])]
    print(f"  other / this tree, import time: {spread(ratios)}x")
    ratios = [o / t for o, t in zip(cpu["other"], cpu["this tree"])]
    print(f"  other / this tree, process CPU: {spread(ratios)}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
