"""The shared adapter of the coordinate-text families that transformers runs natively.

One batch: take every image (opened by the runner's workers, which make a sample whose
image cannot be opened an ERROR before it gets here: runner/prepare.py), build each
prompt with the family's chat template, encode with left padding, generate greedily, decode keeping special tokens, then read the text with the family's parser in
the family's frame and apply the task rule (`text_rules`). The adapter is given
`ModelRequest`s only: it never holds ground truth.

A family subclass says how to wrap a prompt (`chat_text`), how to encode a batch
(`encode`), what the frame of sample i is (`frame`), and optionally what text the model
was made to start with (`echo`, Kosmos-2's phrase prompt).

Generating is the job of the adapter's `backend` (models/hf/backend.py): transformers by
default, vLLM under `--backend vllm` (models/vllm_backend.py). Everything else above is
the adapter's, so both backends are scored identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from padt_eval.core.answer_cost import cost_meta
from padt_eval.core.errors import UsageError
from padt_eval.core.images import open_rgb
from padt_eval.core.types import ModelRequest, ParseStatus, Prediction, Task
from padt_eval.models.base import ModelAdapter, get_family
from padt_eval.models.coords import Frame, TextFormat, get_format
from padt_eval.models.hf.backend import GenerationBackend, GenerationCall, TransformersBackend
from padt_eval.models.hf.generation import Generated
from padt_eval.models.text_rules import ANSWER_RULE, prediction_from_text  # the one models -> tasks edge is in text_rules

BOX_SCORE_RULE = "mean log-probability of the tokens spelling the box's coordinates (raw logits, greedy decoding)"
DEFAULT_MAX_NEW_TOKENS = {Task.REC: 256, Task.RES: 256, Task.OVD: 1024, Task.RIC: 512, Task.GREC: 512, Task.GRES: 512}
#: The load options every family here accepts (`--model-arg KEY=VALUE` and the named flags).
LOAD_OPTIONS = (
    "prompt_style",
    "max_new_tokens",
    "dtype",
    "attn",
    "revision",
    "min_pixels",
    "max_pixels",
    "extra_generate_kwargs",
)


def check_options(family: str, options: dict[str, Any], accepted: tuple[str, ...] = LOAD_OPTIONS) -> None:
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UsageError(f"model family {family!r} does not take option(s) {', '.join(unknown)}; it takes: {', '.join(accepted)}")


def open_image(req: ModelRequest) -> Any:
    """The adapters' preprocessor (run in DataLoader workers): the request's image, RGB."""
    return open_rgb(req.image)


def resolve_device_dtype(device: str | None, dtype: str | None) -> tuple[str, Any]:
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype is None:
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in ("bfloat16", "float16", "float32"):
        raise UsageError(f"--dtype must be bfloat16, float16 or float32, got {dtype!r}")
    return device, getattr(torch, dtype)


class HFTextBoxAdapter(ModelAdapter):
    """Base of the transformers-native coordinate-text adapters."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        name: str,
        family: str,
        prompt_style: str | None = None,
        max_new_tokens: int | None = None,
        device: str = "cpu",
        extra_generate_kwargs: dict[str, Any] | None = None,
        revision: str | None = None,
        backend: GenerationBackend | None = None,
    ) -> None:
        """`model`: the transformers model, generated with by a `TransformersBackend`;
        or None with `backend` another one (vLLM), which then holds the weights.
        `family`: the registered family the loader loads (its entry gives the text format,
        so one adapter class serves every family that answers through it)."""
        self.family = family
        # The family checks the style; the task fills each request's prompt from this key.
        self.prompt_key = get_family(self.family).prompt_key({"prompt_style": prompt_style})
        self.prompt_style = self.prompt_key.style
        self.backend = backend if backend is not None else TransformersBackend(model, device)
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.name = name
        self.revision = revision
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.extra_generate_kwargs = dict(extra_generate_kwargs or {})
        self.fmt: TextFormat = get_format(family)  # the entry's format, under the family's name
        self.eos_ids = self._eos_ids()

    @property
    def model(self) -> Any:
        """The transformers model (None under a backend that holds its own weights)."""
        return getattr(self.backend, "model", None)

    @property
    def window(self) -> int | None:  # type: ignore[override]
        return self.backend.window

    # ---- family hooks -------------------------------------------------------------------
    def chat_text(self, req: ModelRequest) -> str:
        """The full text prompt for one request (chat template applied)."""
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": req.prompt or ""}]}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def encode(self, texts: list[str], images: list[Any], requests: list[ModelRequest]) -> dict:
        return self.processor(text=texts, images=images, padding=True, return_tensors="pt")

    def frame(self, i: int, req: ModelRequest, inputs: dict) -> Frame:
        return Frame(req.image.width, req.image.height)

    def echo(self, req: ModelRequest) -> str:
        """Text the model was made to begin its answer with (kept in front of the output)."""
        return ""

    def postprocess(self, pred: Prediction, req: ModelRequest, gen: Generated) -> Prediction:
        return pred

    def frame_inputs(self, requests: list[ModelRequest], limits: dict[str, Any]) -> dict:
        """What `frame` reads from processor outputs, computed without the processor, for a
        backend that runs it itself (vLLM; `limits`: its min_pixels/max_pixels). Default:
        nothing (the frame is the original image)."""
        return {}

    def generation_call(self, task: Task, texts: list[str], images: list[Any], requests: list[ModelRequest]) -> GenerationCall:
        """One list of prompts as the backend receives it."""
        return GenerationCall(
            task,
            texts,
            images,
            requests,
            max_new_tokens=self.new_tokens(task),
            eos_ids=self.eos_ids,
            tokenizer=self.tokenizer,
            encode=self.encode,
            frame_inputs=self.frame_inputs,
            extra_generate_kwargs=lambda: self.extra_generate_kwargs,
        )

    # ---- the loop -------------------------------------------------------------------------
    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for src in (self.backend.generation_config, self.backend.config):
            eos = getattr(src, "eos_token_id", None) if src is not None else None
            if isinstance(eos, int):
                ids.add(eos)
            elif isinstance(eos, (list, tuple)):
                ids.update(int(e) for e in eos)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        if self.tokenizer.pad_token_id is not None:
            ids.add(int(self.tokenizer.pad_token_id))
        return ids

    def new_tokens(self, task: Task) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[task]

    def preprocessor(self):
        return open_image

    def _by_task(self, requests: Sequence[ModelRequest], prepared: Sequence[Any]):
        """{task: [(index, request, image)]}: one generate call per task."""
        by_task: dict[Task, list[tuple[int, ModelRequest, Any]]] = {}
        for i, (req, image) in enumerate(zip(requests, prepared)):
            by_task.setdefault(req.task, []).append((i, req, image))
        return by_task

    def predict(self, requests: Sequence[ModelRequest], prepared: Sequence[Any]) -> list[Prediction]:
        """`prepared[i]`: the image the runner's workers opened."""
        out: dict[int, Prediction] = {}
        by_task = self._by_task(requests, prepared)
        for task, items in by_task.items():
            for (i, _, _), pred in zip(items, self.run_batch(task, [r for _, r, _ in items], [im for _, _, im in items])):
                out[i] = pred
        return [out[i] for i in range(len(requests))]

    def predict_stream(
        self, batches: Iterable[tuple[list[ModelRequest], list[Any]]]
    ) -> Iterator[tuple[list[ModelRequest], list[Prediction]]]:
        """As the base class; with a backend whose `finish` overlaps (vLLM), window k is
        decoded and parsed on a thread while window k+1 generates, so the engine never
        waits for detokenisation except after the last window."""
        if not self._overlaps():
            yield from super().predict_stream(batches)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="padt-eval-finish") as pool:
            pending: tuple[list[ModelRequest], Future] | None = None
            for requests, prepared in batches:
                started = (requests, self._start_window(requests, prepared, pool))  # generates (blocks)
                if pending is not None:
                    yield pending[0], pending[1].result()
                pending = started
            if pending is not None:
                yield pending[0], pending[1].result()

    def _overlaps(self) -> bool:
        # Only the plain loop can be split in two; a family with its own run_batch or
        # generate (Florence-2's two passes, Kosmos-2's one-by-one) runs as `predict`.
        plain = type(self).run_batch is HFTextBoxAdapter.run_batch and type(self).generate is HFTextBoxAdapter.generate
        return self.backend.overlaps_finish and plain

    def _start_window(self, requests: Sequence[ModelRequest], prepared: Sequence[Any], pool: ThreadPoolExecutor) -> Future:
        out: dict[int, Prediction] = {}
        by_task = self._by_task(requests, prepared)
        started = []
        for task, items in by_task.items():
            reqs = [r for _, r, _ in items]
            call = self.generation_call(task, [self.chat_text(r) for r in reqs], [im for _, _, im in items], reqs)
            raw, inputs = self.backend.generate(call)
            started.append((items, reqs, call, raw, inputs))

        def complete() -> list[Prediction]:
            for items, reqs, call, raw, inputs in started:
                for (i, _, _), pred in zip(items, self.read_batch(reqs, self.backend.finish(call, raw), inputs)):
                    out[i] = pred
            return [out[i] for i in range(len(requests))]

        return pool.submit(complete)

    def generate(
        self, task: Task, texts: list[str], images: list[Any], requests: list[ModelRequest]
    ) -> tuple[list[Generated], Any]:
        call = self.generation_call(task, texts, images, requests)
        raw, inputs = self.backend.generate(call)
        return self.backend.finish(call, raw), inputs

    def run_batch(self, task: Task, requests: list[ModelRequest], images: list[Any]) -> list[Prediction]:
        gens, inputs = self.generate(task, [self.chat_text(r) for r in requests], images, requests)
        return self.read_batch(requests, gens, inputs)

    def read_batch(self, requests: list[ModelRequest], gens: list[Generated], inputs: Any) -> list[Prediction]:
        """Parse each generation in its frame and apply the task rules."""
        preds = []
        for i, (req, gen) in enumerate(zip(requests, gens)):
            prefix = self.echo(req)
            shift = len(prefix)  # the echoed prefix moves every span of the generated text
            text = prefix + gen.text
            meta: dict[str, Any] = {
                "n_new_tokens": len(gen.token_ids),
                "stopped": gen.stopped,
                "box_score": "mean_token_logprob",
                **cost_meta(gen.prompt_tokens, gen.completion_tokens, hit_max=not gen.stopped),
            }
            pred = prediction_from_text(
                req.sample_id,
                req.task,
                text,
                self.fmt,
                self.frame(i, req, inputs),
                score_of=lambda span, g=gen, k=shift: g.span_score(span, shift=k),
                meta=meta,
            )
            if not gen.stopped and pred.parse_status == ParseStatus.OK:
                note = f"cut off at max_new_tokens={self.new_tokens(req.task)}"
                pred.parse_reason = f"{pred.parse_reason}; {note}" if pred.parse_reason else note
            preds.append(self.postprocess(pred, req, gen))
        return preds

    # ---- manifest -------------------------------------------------------------------------
    def processor_settings(self) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        """Computed once while the model is loaded (the runner describes after `close`)."""
        if getattr(self, "_description", None) is None:
            self._description = self._describe()
        return dict(self._description)

    def _describe(self) -> dict[str, Any]:
        backend = self.backend.describe()
        gc = self.backend.generation_config
        penalty = float(getattr(gc, "repetition_penalty", None) or 1.0) if gc is not None else 1.0
        generation = {
            "decoding": "greedy (do_sample=False, num_beams=1)",
            "repetition_penalty": penalty,
            "repetition_penalty_counts": "each row's own tokens (left padding excluded), so batched output equals batch-1 output",
            "max_new_tokens": {t.value: self.new_tokens(t) for t in Task},
            "checkpoint_generation_config": gc.to_diff_dict() if gc is not None else None,
            **({"extra": {k: repr(v) for k, v in self.extra_generate_kwargs.items()}} if self.extra_generate_kwargs else {}),
        }
        generation.update(backend.pop("generation", {}))
        return {
            "family": self.family,
            "name": self.name,
            "revision": self.revision,
            **backend,  # model_class, dtype, n_parameters (and a non-default backend's own fields)
            "device": self.device,
            "prompt_style": self.prompt_style,
            "prompt_key": str(self.prompt_key),
            "format": self.fmt.name,
            "coordinate_frame": self.fmt.frame,
            "rec_res_selection": ANSWER_RULE,
            "box_score": BOX_SCORE_RULE,
            "special_tokens": "kept when decoding; output cut at the first end-of-sequence token",
            "generation": generation,
            "processor": self.processor_settings(),
        }

    def close(self) -> None:
        self.describe()
        self.backend.close()
