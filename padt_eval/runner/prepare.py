"""One place where a sample whose input cannot be prepared becomes that sample's ERROR.

The runner's DataLoader workers run the adapter's preprocessor (open the image, resize,
tokenise ...) on each request. Whatever it raises for one sample (a missing or
unreadable image, a FIFO, a decompression bomb, an aspect ratio the image processor
refuses) is turned here into a `PrepFailure` carrying a reason that names the file, and so
is a request without the prompt its adapter needs; the adapter is then given only the
samples that were prepared, through its one signature `predict(requests, prepared)`, and
the failed ones come back as ERROR predictions in their places. So every adapter reports
the same failures the same way, and none checks its inputs or knows which exceptions a
preprocessor may raise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from padt_eval.core.errors import PadtEvalError
from padt_eval.core.types import ModelRequest, ParseStatus, Prediction
from padt_eval.models.base import ModelAdapter


@dataclass(frozen=True)
class PrepFailure:
    """A sample whose preprocessing raised: why, in words that name the file. Plain data,
    so it pickles back from a DataLoader worker whatever the exception was."""

    reason: str


def failure_reason(request: ModelRequest, exc: BaseException) -> str:
    if isinstance(exc, PadtEvalError):  # ours: already names the file and what is wrong
        return str(exc)
    return f"image {request.image.path} could not be prepared: {type(exc).__name__}: {exc}"


#: The reason of a request that reaches an adapter taking prompts without one (the task
#: fills prompts in, tasks/prompts.py; nobody makes one up).
NO_PROMPT = "no prompt in the request"


def prepare(request: ModelRequest, preprocess: Callable[[ModelRequest], Any], *, takes_prompt: bool = False) -> Any:
    """`preprocess(request)`, or a `PrepFailure` when it raises or when `takes_prompt`
    and the request has no prompt."""
    if takes_prompt and request.prompt is None:
        return PrepFailure(NO_PROMPT)
    try:
        return preprocess(request)
    except Exception as exc:  # noqa: BLE001 — one sample's input, never fatal to the run
        return PrepFailure(failure_reason(request, exc))


def _merged(
    adapter: ModelAdapter, requests: Sequence[ModelRequest], failed: dict[int, str], preds: Sequence[Prediction]
) -> list[Prediction]:
    if len(preds) != len(requests) - len(failed):
        raise RuntimeError(
            f"{type(adapter).__name__}.predict returned {len(preds)} predictions for {len(requests) - len(failed)} requests"
        )
    answered = iter(preds)
    return [
        Prediction(req.sample_id, parse_status=ParseStatus.ERROR, parse_reason=failed[i]) if i in failed else next(answered)
        for i, req in enumerate(requests)
    ]


def predict_prepared(
    adapter: ModelAdapter, batches: Iterable[tuple[list[ModelRequest], list[Any]]]
) -> Iterator[tuple[list[ModelRequest], list[Prediction]]]:
    """(requests, predictions) for each (requests, prepared) batch, in order, through the
    adapter's `predict_stream`: the adapter sees only the prepared samples; a `PrepFailure`
    becomes that sample's ERROR prediction with its reason."""
    pending: deque[tuple[list[ModelRequest], dict[int, str]]] = deque()

    def clean() -> Iterator[tuple[list[ModelRequest], list[Any]]]:
        for requests, prepared in batches:
            failed = {i: p.reason for i, p in enumerate(prepared) if isinstance(p, PrepFailure)}
            pending.append((requests, failed))
            keep = [i for i in range(len(requests)) if i not in failed]
            yield [requests[i] for i in keep], [prepared[i] for i in keep]

    # The adapter may read batch k+1 before it answers batch k (vLLM overlaps them), so
    # the failures wait in a queue in batch order.
    for _, preds in adapter.predict_stream(clean()):
        requests, failed = pending.popleft()
        yield requests, _merged(adapter, requests, failed, preds)


def predict_requests(adapter: ModelAdapter, requests: list[ModelRequest]) -> list[Prediction]:
    """One batch in this process, prepared as the runner's workers prepare it."""
    preprocess = adapter.preprocessor()
    prepared = [prepare(r, preprocess, takes_prompt=adapter.prompt_key is not None) for r in requests]
    return next(iter(predict_prepared(adapter, [(requests, prepared)])))[1]
