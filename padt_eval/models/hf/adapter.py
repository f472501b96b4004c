"""The shared adapter of the coordinate-text families that transformers runs natively.

One batch: open every image (an unreadable one makes that sample an ERROR, the rest run),
build each prompt with the family's chat template, encode with left padding, generate
greedily, decode keeping special tokens, then read the text with the family's parser in
the family's frame and apply the task rule (`text_rules`). The adapter is given
`ModelRequest`s only: it never holds ground truth.

A family subclass says how to wrap a prompt (`chat_text`), how to encode a batch
(`encode`), what the frame of sample i is (`frame`), and optionally what text the model
was made to start with (`echo`, Kosmos-2's phrase prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from padt_eval.core.errors import PadtEvalError, UsageError
from padt_eval.models.base import ModelAdapter
from padt_eval.models.baseline_prompts import DEFAULT_STYLE, PROMPT_STYLES, prompt_key
from padt_eval.models.coords import Frame, TextFormat, get_format
from padt_eval.models.hf.generation import Generated, greedy_generate
from padt_eval.models.text_rules import FIRST_BOX_RULE, prediction_from_text
from padt_eval.tasks.prompts import PROMPT_TABLE
from padt_eval.core.types import ModelRequest, ParseStatus, Prediction, Task

BOX_SCORE_RULE = "mean log-probability of the tokens spelling the box's coordinates (raw logits, greedy decoding)"
DEFAULT_MAX_NEW_TOKENS = {Task.REC: 256, Task.RES: 256, Task.OVD: 1024, Task.RIC: 512}
#: The load options every family here accepts (`--model-arg KEY=VALUE` and the named flags).
LOAD_OPTIONS = ("prompt_style", "max_new_tokens", "dtype", "attn", "revision", "min_pixels", "max_pixels", "extra_generate_kwargs")


def check_options(family: str, options: dict[str, Any], accepted: tuple[str, ...] = LOAD_OPTIONS) -> None:
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UsageError(f"model family {family!r} does not take option(s) {', '.join(unknown)}; it takes: {', '.join(accepted)}")


def open_image(req: ModelRequest) -> Any:
    """The adapters' preprocessor (run in DataLoader workers): the request's image, RGB."""
    return req.image.open()


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

    family_name: str = ""  # the registered family ("qwen2_5_vl")
    format_name: str = ""  # its text format

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        name: str,
        prompt_style: str | None = None,
        max_new_tokens: int | None = None,
        device: str = "cpu",
        extra_generate_kwargs: dict[str, Any] | None = None,
        revision: str | None = None,
    ) -> None:
        style = prompt_style or DEFAULT_STYLE[self.family_name]
        if style not in PROMPT_STYLES:
            raise UsageError(f"--prompt-style must be one of {', '.join(PROMPT_STYLES)}, got {style!r}")
        key = prompt_key(self.family_name, style)
        if key not in PROMPT_TABLE:
            raise UsageError(f"model family {self.family_name!r} has no {style!r} prompts; use --prompt-style native")
        self.family = key  # the runner looks prompts up under this key
        self.prompt_style = style
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.name = name
        self.revision = revision
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.extra_generate_kwargs = dict(extra_generate_kwargs or {})
        self.fmt: TextFormat = get_format(self.format_name)
        self.eos_ids = self._eos_ids()

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

    # ---- the loop -------------------------------------------------------------------------
    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for src in (getattr(self.model, "generation_config", None), getattr(self.model, "config", None)):
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

    def predict(self, requests: Sequence[ModelRequest], prepared: Sequence[Any] | None = None) -> list[Prediction]:
        """`prepared[i]`: the image the runner's workers opened (or the exception they hit)."""
        out: dict[int, Prediction] = {}
        runnable: list[tuple[int, ModelRequest, Any]] = []
        for i, req in enumerate(requests):
            if req.prompt is None:
                out[i] = Prediction(req.sample_id, parse_status=ParseStatus.ERROR, parse_reason="no prompt for this task and model family")
                continue
            try:
                image = prepared[i] if prepared is not None else open_image(req)
                if isinstance(image, BaseException):
                    raise image
            except Exception as exc:  # noqa: BLE001 - this sample's image, not the batch's problem
                reason = str(exc) if isinstance(exc, PadtEvalError) else f"image cannot be prepared: {type(exc).__name__}: {exc}"
                out[i] = Prediction(req.sample_id, parse_status=ParseStatus.ERROR, parse_reason=reason)
                continue
            runnable.append((i, req, image))
        # One generate call per task (a batch normally holds one task).
        by_task: dict[Task, list[tuple[int, ModelRequest, Any]]] = {}
        for item in runnable:
            by_task.setdefault(item[1].task, []).append(item)
        for task, items in by_task.items():
            for (i, _req, _), pred in zip(items, self.run_batch(task, [r for _, r, _ in items], [im for _, _, im in items])):
                out[i] = pred
        return [out[i] for i in range(len(requests))]

    def generate(self, task: Task, texts: list[str], images: list[Any], requests: list[ModelRequest]) -> tuple[list[Generated], dict]:
        inputs = self.encode(texts, images, requests)
        inputs = inputs.to(self.device) if hasattr(inputs, "to") else inputs
        gens = greedy_generate(
            self.model, dict(inputs), max_new_tokens=self.new_tokens(task), eos_ids=self.eos_ids, tokenizer=self.tokenizer, **self.extra_generate_kwargs
        )
        return gens, inputs

    def run_batch(self, task: Task, requests: list[ModelRequest], images: list[Any]) -> list[Prediction]:
        gens, inputs = self.generate(task, [self.chat_text(r) for r in requests], images, requests)
        preds = []
        for i, (req, gen) in enumerate(zip(requests, gens)):
            prefix = self.echo(req)
            shift = len(prefix)  # the echoed prefix moves every span of the generated text
            text = prefix + gen.text
            meta: dict[str, Any] = {"n_new_tokens": len(gen.token_ids), "stopped": gen.stopped, "box_score": "mean_token_logprob"}
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
        gc = getattr(self.model, "generation_config", None)
        penalty = float(getattr(gc, "repetition_penalty", None) or 1.0) if gc is not None else 1.0
        generation = {
            "decoding": "greedy (do_sample=False, num_beams=1)",
            "repetition_penalty": penalty,
            "repetition_penalty_counts": "each row's own tokens (left padding excluded), so batched output equals batch-1 output",
            "max_new_tokens": {t.value: self.new_tokens(t) for t in Task},
            "checkpoint_generation_config": gc.to_diff_dict() if gc is not None else None,
            **({"extra": {k: repr(v) for k, v in self.extra_generate_kwargs.items()}} if self.extra_generate_kwargs else {}),
        }
        return {
            "family": self.family_name,
            "name": self.name,
            "revision": self.revision,
            "model_class": type(self.model).__name__,
            "dtype": str(getattr(self.model, "dtype", None)),
            "device": self.device,
            "n_parameters": int(sum(p.numel() for p in self.model.parameters())),
            "prompt_style": self.prompt_style,
            "prompt_key": self.family,
            "format": self.fmt.name,
            "coordinate_frame": self.fmt.frame,
            "rec_res_selection": FIRST_BOX_RULE,
            "box_score": BOX_SCORE_RULE,
            "special_tokens": "kept when decoding; output cut at the first end-of-sequence token",
            "generation": generation,
            "processor": self.processor_settings(),
        }

    def close(self) -> None:
        self.describe()
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
