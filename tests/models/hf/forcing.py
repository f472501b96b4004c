"""Force a tiny model to write given answers (tests only): generation is constrained to
each request's target tokens, then end-of-sequence. The model still runs every step, so
its log-probabilities, decoding and everything after are real."""

from __future__ import annotations


def force(adapter, targets_of):
    """`targets_of(request) -> token ids`. Wraps `adapter.encode`, which sees exactly the
    requests of each generate call (Kosmos-2 generates one sample at a time)."""
    orig = adapter.encode
    eos = adapter.tokenizer.convert_tokens_to_ids(adapter.tokenizer.eos_token)

    def encode(texts, images, requests):
        targets = [list(targets_of(r)) + [eos] for r in requests]
        start: dict[int, int] = {}

        def allowed(batch_id, input_ids):
            k = len(input_ids) - start.setdefault(batch_id, len(input_ids))
            t = targets[batch_id]
            return [t[k]] if k < len(t) else [eos]

        adapter.extra_generate_kwargs = {"prefix_allowed_tokens_fn": allowed}
        return orig(texts, images, requests)

    adapter.encode = encode
    return adapter


def text_ids(adapter, text: str, family: str) -> list[int]:
    tok = adapter.tokenizer
    ids = tok.encode(text, add_special_tokens=False)
    return ([tok.bos_token_id] if family == "florence2" else []) + ids


def run_forced(monkeypatch, adapter, task, split: str, checkpoint, out, **data):
    """`api.run_model` (the runner a real run takes, one rank) with `adapter` served in
    place of loading `checkpoint` again: the forced adapter is an object in this process."""
    from padt_eval import api
    from padt_eval.models import loading
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    monkeypatch.setattr(loading, "load_model", lambda *args, **kwargs: adapter)
    return api.run_model(
        task,
        split,
        ModelOptions(str(checkpoint), adapter.family),
        data=DataOptions(**data),
        run=RunOptions(1, "cpu", batch_size=3, loader_workers=0),
        output=OutputOptions(out, report=False),
    )
