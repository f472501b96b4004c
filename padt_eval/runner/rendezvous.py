"""Ranks joined by an outside launcher meet at one store: every wait bounded and spoken.

Started by hand, as `srun` starts them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), the
ranks meet at a TCP store that rank 0 serves on MASTER_ADDR:MASTER_PORT. torch's own
`env://` start waits for it without a word for its whole timeout: a rank 1 whose rank 0
was refused (its folder locked, an option wrong) waited 1,800 s for a store that would
never come (J04), and a rank 0 whose rank 1 never started waited as long (J06). Here:

* a waiting rank says whom it waits for and where, every 30 s (more often when the
  timeout is short), and gives up after `--rank-timeout` with a message naming them;
* a rank refused before it joined tells the others through the store (rank 0 serves it
  for a moment for that), and they stop at once, with its reason and exit code.

Under torchrun the store is its agent's (TORCHELASTIC_USE_AGENT_STORE), already up, and
every rank is its client; the same keys work there.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from padt_eval.core.errors import PadtEvalError

DEFAULT_RANK_TIMEOUT_S = 30 * 60
NOTE_EVERY_S = 30.0
_POLL_S = 0.1
_REFUSAL_GRACE_S = 30.0  # how long a refused rank 0 serves the store for the others to read why
_joined = False  # this process's ranks have met: a later failure concerns nobody waiting
_store: Any = None  # the store this process opened, while the ranks meet


class RanksDidNotJoin(PadtEvalError):
    """The ranks waited for did not come within --rank-timeout."""

    exit_code = 124  # what `timeout` reports for a command that ran out of time


class PeerRefused(PadtEvalError):
    """Another rank of the job was refused before the ranks met; this one stops with it."""


@dataclass(frozen=True)
class Meeting:
    """Where and how the ranks of this job meet."""

    host: str
    port: int
    rank: int
    world: int
    timeout_s: float
    agent_store: bool  # torchrun's agent serves the store; rank 0 is a client like the others

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def note_every_s(self) -> float:
        return min(NOTE_EVERY_S, max(1.0, self.timeout_s / 4))


def meeting(timeout_s: float = DEFAULT_RANK_TIMEOUT_S) -> Meeting | None:
    """This process's meeting point from the launcher's environment; None when it is not
    one of several ranks joined by an outside launcher."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world <= 1 or "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
        return None
    return Meeting(
        host=os.environ["MASTER_ADDR"],
        port=int(os.environ["MASTER_PORT"]),
        rank=int(os.environ.get("RANK", 0)),
        world=world,
        timeout_s=float(timeout_s),
        agent_store=os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true",
    )


def _say(message: str) -> None:
    from padt_eval.core.library_log import user_stderr

    print(f"padt-eval: {message}", file=user_stderr(), flush=True)


def _waited(t0: float, m: Meeting) -> str:
    return f"{time.monotonic() - t0:.0f} s of {m.timeout_s:.0f} s (--rank-timeout)"


def _poll(m: Meeting, done: Callable[[], Any], note: Callable[[str], str], seconds: float | None = None) -> Any:
    """Call `done()` until it returns something true; say `note(waited)` every note period.
    Returns that value, or None when `seconds` (default: the rank timeout) ran out."""
    t0 = time.monotonic()
    limit = m.timeout_s if seconds is None else seconds
    next_note = t0 + m.note_every_s
    while True:
        value = done()
        if value:
            return value
        now = time.monotonic()
        if now - t0 >= limit:
            return None
        if now >= next_note:
            _say(note(_waited(t0, m)))
            next_note = now + m.note_every_s
        time.sleep(_POLL_S)


def _listening(m: Meeting) -> bool:
    try:
        with socket.create_connection((m.host, m.port), timeout=1.0):
            return True
    except OSError:
        return False


def _prefixed(store: Any) -> Any:
    import torch.distributed as dist

    # A torchrun agent's store outlives a restarted attempt: keys of each attempt apart.
    return dist.PrefixStore(f"padt-eval/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/", store)


def _serve(m: Meeting) -> Any:
    import torch.distributed as dist

    try:
        return dist.TCPStore(m.host, m.port, m.world, True, timedelta(seconds=m.timeout_s), wait_for_workers=False)
    except (RuntimeError, OSError) as exc:
        raise PadtEvalError(
            f"rank 0 cannot serve the ranks' store at {m.where} (MASTER_ADDR:MASTER_PORT): {str(exc).splitlines()[0]}; "
            "is the port in use, or the address not this machine's?"
        ) from None


def _connect(m: Meeting, seconds: float | None = None) -> Any | None:
    """A client of the store, once it listens (polled quietly: a refused TCPStore client
    logs a C++ traceback per try). None when it did not come within `seconds`."""
    import torch.distributed as dist

    up = _poll(
        m,
        lambda: _listening(m),
        lambda waited: f"rank {m.rank}: waiting for rank 0's store at {m.where} (MASTER_ADDR:MASTER_PORT; {waited})",
        seconds,
    )
    if not up:
        return None
    return dist.TCPStore(m.host, m.port, m.world, False, timedelta(seconds=m.timeout_s))


def open_store(m: Meeting) -> Any:
    """The job's store: served by rank 0 (started by hand), else a client of it."""
    global _store
    if m.rank == 0 and not m.agent_store:
        _store = _prefixed(_serve(m))
        return _store
    store = _connect(m)
    if store is None:
        raise RanksDidNotJoin(
            f"rank {m.rank}: rank 0's store at {m.where} did not come up within {m.timeout_s:.0f} s (--rank-timeout); "
            "is rank 0 running with the same MASTER_ADDR and MASTER_PORT? (if it was refused, its own output says why)"
        )
    _store = _prefixed(store)
    return _store


def _refusal(store: Any) -> dict | None:
    if not store.check(["refused"]):
        return None
    try:
        return json.loads(store.get("refused"))
    except ValueError:
        return {"rank": "?", "reason": "refused", "code": 1}


def meet(store: Any, m: Meeting) -> None:
    """Say this rank is here; wait for every other one. A refusal published meanwhile
    stops this rank with the refused rank's reason and exit code."""
    store.set(f"rank/{m.rank}", f"{socket.gethostname()} pid {os.getpid()}")

    def all_here() -> bool:
        if _refusal(store) is not None:
            return True
        return store.check([f"rank/{r}" for r in range(m.world)])

    def missing() -> list[int]:
        return [r for r in range(m.world) if not store.check([f"rank/{r}"])]

    def note(waited: str) -> str:
        return f"rank {m.rank}: waiting for rank(s) {_listed(missing())} of {m.world} to join at {m.where} ({waited})"

    try:
        here = _poll(m, all_here, note)
        refusal = _refusal(store)
    except RuntimeError as exc:  # the store went away: rank 0 stopped (killed) while the others came
        raise RanksDidNotJoin(
            f"rank {m.rank}: lost the ranks' store at {m.where} while waiting for the others to join "
            f"({str(exc).splitlines()[0]}); did rank 0 stop? Start every rank again."
        ) from None
    if refusal is not None:
        try:
            store.add("refusal_seen", 1)  # the refused rank 0 serves the store until every rank has read this
        except RuntimeError:
            pass
        failed = PeerRefused(f"rank {refusal['rank']} was refused, so rank {m.rank} stops too: {refusal['reason']}")
        failed.exit_code = int(refusal.get("code") or 1)
        raise failed
    if not here:
        raise RanksDidNotJoin(
            f"rank {m.rank}: rank(s) {_listed(missing())} of {m.world} did not join at {m.where} within "
            f"{m.timeout_s:.0f} s (--rank-timeout); start every rank with the same MASTER_ADDR, MASTER_PORT and "
            "WORLD_SIZE (a rank that was refused says why in its own output)"
        )


def mark_joined() -> None:
    """The ranks have met and agreed: from here on nobody waits on this process's store."""
    global _joined, _store
    _joined, _store = True, None


def _listed(ranks: list[int]) -> str:
    return ", ".join(str(r) for r in ranks) or "none"


@contextmanager
def others_told_of_a_refusal(timeout_s: float = DEFAULT_RANK_TIMEOUT_S) -> Iterator[None]:
    """Around everything a joined rank does before the ranks meet: if it is refused (a
    locked folder, a bad option, a missing split), the other ranks learn it through the
    store and stop at once with its reason, instead of waiting out --rank-timeout."""
    m = meeting(timeout_s)
    if m is None:
        yield
        return
    try:
        yield
    except BaseException as exc:
        if not _joined and not isinstance(exc, PeerRefused):
            _publish_refusal(m, exc)
        raise


def _publish_refusal(m: Meeting, exc: BaseException) -> None:
    """Best effort: a failure to tell the others never hides this rank's own error."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    code = getattr(exc, "exit_code", None) or (130 if isinstance(exc, KeyboardInterrupt) else 1)
    doc = json.dumps({"rank": m.rank, "reason": reason, "code": code})
    grace = min(m.timeout_s, _REFUSAL_GRACE_S)
    serving = m.rank == 0 and not m.agent_store
    try:
        if _store is not None:  # the ranks were meeting when this rank failed
            store = _store
        elif serving:
            store = _prefixed(_serve(m))
        else:
            raw = _connect(m, seconds=min(grace, 5.0))
            if raw is None:
                return
            store = _prefixed(raw)
        store.set("refused", doc)
        # The store ends with this process: wait until the others have read it (unless they
        # are the ones who never came, or the user is waiting for Ctrl-C to end this).
        if serving and not isinstance(exc, (RanksDidNotJoin, KeyboardInterrupt)):
            others = m.world - 1
            _poll(
                m,
                lambda: store.add("refusal_seen", 0) >= others,
                lambda waited: f"rank 0: telling the other ranks it was refused, at {m.where} (up to {grace:.0f} s)",
                grace,
            )
    except (PadtEvalError, RuntimeError, OSError):
        pass
