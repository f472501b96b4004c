"""The runner's one place for preprocessing failures (runner/prepare.py): adapters see only
prepared samples; failures come back as ERROR predictions in their places, in order."""

from __future__ import annotations

import pytest

from padt_eval.core.errors import DataError
from padt_eval.core.types import ImageRef, ModelRequest, ParseStatus, Prediction, Task
from padt_eval.models.base import ModelAdapter
from padt_eval.runner.prepare import PrepFailure, predict_prepared, predict_requests, prepare


def _req(sid: str) -> ModelRequest:
    return ModelRequest(sid, Task.REC, ImageRef(f"/img/{sid}.png", 10, 10), expression="x", prompt="p")


class Echo(ModelAdapter):
    """Answers each prepared input with its text; records what it was given. With
    `lookahead`, reads batch k+1 before answering batch k, as the vLLM adapter does."""

    def __init__(self, lookahead: bool = False) -> None:
        self.seen: list[list] = []
        self.lookahead = lookahead

    def preprocessor(self):
        def prep(req):
            if req.sample_id.startswith("bad"):
                raise ValueError("aspect ratio 300")
            if req.sample_id.startswith("gone"):
                raise DataError(f"image not found: {req.image.path}")
            return f"pixels of {req.sample_id}"

        return prep

    def predict(self, requests, prepared=None):
        self.seen.append(list(prepared))
        return [Prediction(r.sample_id, text=p) for r, p in zip(requests, prepared)]

    def predict_stream(self, batches):
        if not self.lookahead:
            yield from super().predict_stream(batches)
            return
        pending = None
        for requests, prepared in batches:
            started = (requests, self.predict(requests, prepared))
            if pending is not None:
                yield pending
            pending = started
        if pending is not None:
            yield pending


@pytest.mark.parametrize("lookahead", [False, True])
def test_failures_come_back_in_their_places_and_the_adapter_sees_only_prepared_inputs(lookahead):
    adapter = Echo(lookahead)
    batches = [["a", "bad1", "b"], ["gone1", "bad2"], ["c"]]
    prep = adapter.preprocessor()
    stream = [([_req(s) for s in b], [prepare(_req(s), prep) for s in b]) for b in batches]
    out = list(predict_prepared(adapter, stream))
    assert [[p.sample_id for p in preds] for _, preds in out] == batches
    flat = {p.sample_id: p for _, preds in out for p in preds}
    assert flat["a"].text == "pixels of a" and flat["c"].parse_status == ParseStatus.OK
    assert flat["bad1"].parse_status == ParseStatus.ERROR
    assert flat["bad1"].parse_reason == "image /img/bad1.png could not be prepared: ValueError: aspect ratio 300"
    assert flat["gone1"].parse_reason == "image not found: /img/gone1.png"  # our own errors name the file already
    assert adapter.seen == [["pixels of a", "pixels of b"], [], ["pixels of c"]]
    assert not any(isinstance(x, PrepFailure) for batch in adapter.seen for x in batch)


def test_an_adapter_that_answers_too_few_is_caught():
    class Short(Echo):
        def predict(self, requests, prepared=None):
            return super().predict(requests, prepared)[:-1]

    with pytest.raises(RuntimeError, match=r"Short.predict returned 1 predictions for 2 requests"):
        predict_requests(Short(), [_req("a"), _req("b")])


def test_a_failure_is_plain_data_that_pickles():
    import pickle

    class Unpicklable(Exception):
        def __reduce__(self):
            raise TypeError("no")

    def prep(req):
        raise Unpicklable("boom")

    failure = prepare(_req("x"), prep)
    assert pickle.loads(pickle.dumps(failure)) == failure and "Unpicklable: boom" in failure.reason


def test_a_request_without_the_prompt_its_adapter_needs_never_reaches_it():
    """The data side, not each adapter, turns a missing prompt into that sample's ERROR;
    an adapter that takes no prompt (prompt_key None) is given such a request as usual."""
    from dataclasses import replace

    from padt_eval.core.types import PromptKey

    prompted = Echo()
    prompted.prompt_key = PromptKey("padt")
    requests = [_req("a"), replace(_req("b"), prompt=None), _req("c")]
    preds = predict_requests(prompted, requests)
    assert [p.parse_status for p in preds] == [ParseStatus.OK, ParseStatus.ERROR, ParseStatus.OK]
    assert preds[1].parse_reason == "no prompt in the request"
    assert prompted.seen == [["pixels of a", "pixels of c"]]

    unprompted = Echo()  # prompt_key None: the colour finder, a predictions file
    assert [p.text for p in predict_requests(unprompted, requests)] == ["pixels of a", "pixels of b", "pixels of c"]
