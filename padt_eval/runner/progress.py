"""The live view of a run: per rank done/total, samples/s, ETA, errors, and where its
time goes (waiting for data against the model), read from files.

Ranks report nothing to anyone: the view polls the plan, the shard files they append
(every complete line is a finished sample) and their timing files (runner/timing.py), so
it costs the ranks nothing and shows the same thing whether the ranks are threads, local
processes or another node's processes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from padt_eval.results.run_folder import RunFolder
from padt_eval.runner.plan import read_plan_summary
from padt_eval.runner.shards import count_lines
from padt_eval.runner.timing import RankTiming, data_wait_share, read_rank_timing


@dataclass
class RankStatus:
    rank: int
    total: int
    done: int
    errors: int
    timing: RankTiming | None = None  # None: no batch timed yet


def _fmt_time(data_wait_s: float, model_s: float) -> tuple[str, str]:
    """(data wait, model) cells: seconds, the wait also as its share of the two."""
    share = data_wait_share(data_wait_s, model_s)
    wait = f"{data_wait_s:,.1f} s" + (f" ({share:.0%})" if share is not None else "")
    return wait, f"{model_s:,.1f} s"


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


class RunProgress:
    """Polls a run folder in a background thread and renders a rich table until stopped."""

    def __init__(self, run_dir: Path, attempt: str, console: Console, title: str, interval: float = 0.5) -> None:
        self.run_dir, self.attempt, self.console, self.title, self.interval = run_dir, attempt, console, title, interval
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread: threading.Thread | None = None
        self.final: list[RankStatus] = []

    def snapshot(self) -> list[RankStatus]:
        plan = read_plan_summary(self.run_dir, self.attempt)
        if plan is None:
            return []
        folder = RunFolder(self.run_dir)
        out = []
        for rank, total in enumerate(plan["per_rank"]):
            done, bad = count_lines(folder.shard(self.attempt, rank))
            out.append(RankStatus(rank, total, done, bad, read_rank_timing(folder, self.attempt, rank)))
        return out

    def render(self, ranks: list[RankStatus]) -> Table:
        elapsed = time.perf_counter() - self._t0
        t = Table(title=self.title, title_justify="left")
        for col in ("rank", "done / total", "samples/s", "ETA", "data wait", "model", "failed"):
            t.add_column(col, justify="right")
        if not ranks:
            t.add_row("—", "planning …", "", "", "", "", "")
            return t
        for r in ranks:
            rate = r.done / elapsed if elapsed > 0 else 0.0
            eta = (r.total - r.done) / rate if rate > 0 else None
            wait, model = _fmt_time(r.timing.data_wait_s, r.timing.model_s) if r.timing is not None else ("", "")
            t.add_row(
                str(r.rank),
                f"{r.done:,} / {r.total:,}",
                f"{rate:,.2f}",
                _fmt_eta(eta),
                wait,
                model,
                str(r.errors) if r.errors else "",
            )
        done, total = sum(r.done for r in ranks), sum(r.total for r in ranks)
        rate = done / elapsed if elapsed > 0 else 0.0
        timed = [r.timing for r in ranks if r.timing is not None]
        wait, model = _fmt_time(sum(x.data_wait_s for x in timed), sum(x.model_s for x in timed)) if timed else ("", "")
        t.add_row(
            "all",
            f"{done:,} / {total:,}",
            f"{rate:,.2f}",
            _fmt_eta((total - done) / rate if rate > 0 else None),
            wait,
            model,
            str(sum(r.errors for r in ranks) or ""),
            style="bold",
        )
        return t

    def __enter__(self) -> RunProgress:
        def loop() -> None:
            with Live(self.render([]), console=self.console, refresh_per_second=4, transient=False) as live:
                while not self._stop.wait(self.interval):
                    live.update(self.render(self.snapshot()))
                self.final = self.snapshot()
                live.update(self.render(self.final))

        self._thread = threading.Thread(target=loop, name="padt-eval-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.console.line()  # rich leaves the cursor after the final table

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._t0
