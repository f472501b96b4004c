"""Generation backends of the coordinate-text adapters: what turns prompts into tokens.

An `HFTextBoxAdapter` owns one backend and does everything else itself (chat template,
parser, frame, task rules, box confidence), so every backend is scored identically:

* `TransformersBackend`: the checkpoint loaded by transformers, greedy `generate` on one
  batch at a time (`generation.greedy_generate`).
* `VllmBackend` (models/vllm_backend.py, `--backend vllm`): a vLLM engine that is handed
  a whole window of requests per call and schedules them itself.

The interface is small on purpose: the checkpoint's configs (end-of-sequence ids,
repetition penalty), `generate` for a list of prompts, `finish` for the step that turns a
backend's raw output into `Generated` (the one a backend may run off the critical path),
what the manifest records, and `close`.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from padt_eval.core.types import ModelRequest, Task
from padt_eval.models.hf.generation import Generated, greedy_generate

if TYPE_CHECKING:
    from padt_eval.models.hf.adapter import HFTextBoxAdapter


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
    def generate(
        self, adapter: HFTextBoxAdapter, task: Task, texts: list[str], images: list[Any], requests: list[ModelRequest]
    ) -> tuple[Any, Any]:
        """(raw outputs, processor inputs for `adapter.frame`) for one list of prompts."""

    def finish(self, adapter: HFTextBoxAdapter, raw: Any) -> list[Generated]:
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

    def generate(self, adapter, task, texts, images, requests):
        inputs = adapter.encode(texts, images, requests)
        inputs = inputs.to(self.device) if hasattr(inputs, "to") else inputs
        gens = greedy_generate(
            self.model,
            dict(inputs),
            max_new_tokens=adapter.new_tokens(task),
            eos_ids=adapter.eos_ids,
            tokenizer=adapter.tokenizer,
            **adapter.extra_generate_kwargs,  # --model-arg extra_generate_kwargs (the adapter records them)
        )
        return gens, inputs

    def describe(self) -> dict[str, Any]:
        return {
            "model_class": type(self.model).__name__,
            "dtype": str(getattr(self.model, "dtype", None)),
            "n_parameters": int(sum(p.numel() for p in self.model.parameters())),
        }

    def close(self) -> None:
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass
