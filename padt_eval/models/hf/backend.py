"""Generation backends of the coordinate-text adapters: what turns prompts into tokens.

An `HFTextBoxAdapter` owns one backend and does everything else itself (chat template,
parser, frame, task rules, box confidence), so every backend is scored identically:

* `TransformersBackend`: the checkpoint loaded by transformers, greedy `generate` on one
  batch at a time (`generation.greedy_generate`).
* `VllmBackend` (models/vllm_backend.py, `--backend vllm`): a vLLM engine that is handed
  a whole window of requests per call and schedules them itself.

The interface is small on purpose: the checkpoint's configs (end-of-sequence ids,
repetition penalty), `generate` for one `GenerationCall`, `finish` for the step that turns a
backend's raw output into `Generated` (the one a backend may run off the critical path),
what the manifest records, and `close`. A `GenerationCall` carries what a backend needs
from the adapter (prompts, images, budget, stop ids, tokenizer, and the family's two
processor hooks), so a backend never imports or calls back into the adapter class.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from padt_eval.core.types import ModelRequest, Task
from padt_eval.models.hf.generation import Generated, greedy_generate


@dataclass
class GenerationCall:
    """One list of prompts to generate for, with the family's settings and hooks."""

    task: Task
    texts: list[str]
    images: list[Any]
    requests: list[ModelRequest]
    max_new_tokens: int
    eos_ids: set[int]
    tokenizer: Any
    #: The family's processor on (texts, images, requests): the model inputs (transformers).
    encode: Callable[[list[str], list[Any], list[ModelRequest]], Any]
    #: What the family's `frame()` reads from processor outputs, for a backend that runs the
    #: processor itself (vLLM): from the requests and the backend's pixel limits.
    frame_inputs: Callable[[list[ModelRequest], dict[str, Any]], dict]
    #: The adapter's extra `generate` keywords (`--model-arg extra_generate_kwargs`), read
    #: when generating, after `encode`: the adapter records them as they were used.
    extra_generate_kwargs: Callable[[], dict[str, Any]] = dict


class GenerationBackend(abc.ABC):
    """How an adapter's prompts and images become generated tokens."""

    #: "transformers" | "vllm", recorded in model.json as `backend`
    name: str = ""
    #: The checkpoint's GenerationConfig (None: it has none) and config.
    generation_config: Any = None
    config: Any = None
    #: Requests the adapter wants per `predict` call; None: the runner's batch (-b).
    window: int | None = None
    #: Whether `finish` is worth running on a thread while the next window generates.
    overlaps_finish: bool = False

    @abc.abstractmethod
    def generate(self, call: GenerationCall) -> tuple[Any, Any]:
        """(raw outputs, processor inputs for the family's `frame`) for one list of prompts."""

    def finish(self, call: GenerationCall, raw: Any) -> list[Generated]:
        """The raw outputs of `generate` as `Generated` (default: they already are)."""
        return list(raw)

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """model.json fields of this backend: model_class, dtype, n_parameters, backend ...;
        a "generation" entry is merged into the adapter's generation settings."""

    def close(self) -> None:  # noqa: B027  (optional: a backend holding nothing releases nothing)
        """Release the weights."""


class TransformersBackend(GenerationBackend):
    """A transformers model on one device; one greedy `generate` per batch."""

    name = "transformers"

    def __init__(self, model: Any, device: str) -> None:
        self.model = model
        self.device = device

    @property
    def generation_config(self) -> Any:  # type: ignore[override]
        return getattr(self.model, "generation_config", None)

    @property
    def config(self) -> Any:  # type: ignore[override]
        return getattr(self.model, "config", None)

    def generate(self, call: GenerationCall) -> tuple[Any, Any]:
        inputs = call.encode(call.texts, call.images, call.requests)
        inputs = inputs.to(self.device) if hasattr(inputs, "to") else inputs
        gens = greedy_generate(
            self.model,
            dict(inputs),
            max_new_tokens=call.max_new_tokens,
            eos_ids=call.eos_ids,
            tokenizer=call.tokenizer,
            **call.extra_generate_kwargs(),
        )
        return gens, inputs

    def describe(self) -> dict[str, Any]:
        from padt_eval.models.weight_stats import initializer_range_of, weight_stats

        return {
            "model_class": type(self.model).__name__,
            "dtype": str(getattr(self.model, "dtype", None)),
            "n_parameters": int(sum(p.numel() for p in self.model.parameters())),
            # whether the weights still look like a fresh initialisation (the untrained-weights alarm)
            "weight_stats": weight_stats(self.model, initializer_range_of(self.config)),
        }

    def close(self) -> None:
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
