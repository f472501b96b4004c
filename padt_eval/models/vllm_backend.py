"""vLLM backend for the coordinate-text baselines vLLM serves (`--backend vllm`).

Optional: `pip install 'padt-eval[vllm]'`. It changes only how tokens are generated: the
prompt (the family's chat template), the parser, the coordinate frame, the task rules and
the box confidence (mean log-probability of the box's tokens) are those of the
transformers adapters in `models/hf/`, so the two backends are scored identically.

Data parallel across GPUs comes from the runner, not from vLLM: each rank is one process
owning one GPU (`--gpus N`), and builds its own single-GPU engine after the ranks have
agreed on their plan. Before vLLM starts, the rank's GPU is made the only visible one and
the launcher's distributed variables are removed from the environment, so vLLM does not
take the rank for part of a tensor-parallel group.

`VllmBackend` is the generation backend an `HFTextBoxAdapter` owns under `--backend vllm`
(models/hf/backend.py has the interface; the adapter class is the family's own, unchanged).
The runner hands the adapter a window of `--model-arg window=N` requests (default
`DEFAULT_WINDOW`; a larger `-b` wins) and each window is one `generate` call, so vLLM
schedules the whole window itself (continuous batching). Images are prepared by the
runner's loader; token ids and log-probabilities come back per request; vLLM's own
detokeniser is off, and the text with its character offsets (incremental, linear in the
answer length) is made on a thread while the next window generates.

Nothing here imports vLLM at import time; `load` does, and only `--backend vllm` calls it.

Decoding matches the transformers path: greedy (temperature 0), the checkpoint's
repetition penalty (vLLM counts prompt and output tokens, as the HF path counts the row's
own tokens; vLLM never pads), the family's end-of-sequence ids, special tokens kept.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.models.coords.registry import TextFamily, resolve, vllm_families
from padt_eval.models.hf.backend import GenerationBackend, GenerationCall
from padt_eval.models.hf.generation import Generated, cut_at_eos, decode_with_offsets

#: Variables of torchrun / our elastic launcher that vLLM would read as its own topology.
LAUNCHER_ENV = (
    "RANK",
    "WORLD_SIZE",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "ROLE_RANK",
    "ROLE_WORLD_SIZE",
    "MASTER_ADDR",
    "MASTER_PORT",
    "TORCHELASTIC_RUN_ID",
    "TORCHELASTIC_RESTART_COUNT",
)


def generated_from_vllm(completion: Any, tokenizer: Any, eos_ids: set[int], prompt_tokens: int | None = None) -> Generated:
    """One vLLM `CompletionOutput` (requested with `logprobs=0`) as our `Generated`.

    The output is cut at the first end-of-sequence id (vLLM keeps the stop token in
    `token_ids`); each kept token's log-probability is the one vLLM reports for the token
    it chose; the text is decoded by the family's tokenizer with special tokens kept and
    character offsets per token, exactly as the transformers path decodes it."""
    ids, stopped = cut_at_eos(list(completion.token_ids), eos_ids)
    stopped = stopped or completion.finish_reason == "stop"
    logprobs: list[float] = []
    for k, token in enumerate(ids):
        step = completion.logprobs[k] if completion.logprobs is not None and k < len(completion.logprobs) else {}
        entry = step.get(token)
        logprobs.append(float(entry.logprob) if entry is not None else float("nan"))
    text, offsets = decode_with_offsets(tokenizer, ids)
    return Generated(token_ids=ids, logprobs=logprobs, text=text, offsets=offsets, stopped=stopped, prompt_tokens=prompt_tokens)


def isolate_gpu(device: str | None) -> None:
    """Make `cuda:i` the process's only visible GPU (vLLM runs on the first visible one)."""
    if not device or not device.startswith("cuda"):
        raise UsageError("--backend vllm needs a GPU (use --gpus N, or --device cuda)")
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    import torch

    if torch.cuda.is_initialized():
        raise UsageError("--backend vllm: CUDA was initialised before the engine; it must own its GPU from the start")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    physical = visible.split(",")[index] if visible else str(index)
    os.environ["CUDA_VISIBLE_DEVICES"] = physical
    for name in LAUNCHER_ENV:
        os.environ.pop(name, None)


#: Requests per `generate` call when `--model-arg window=N` is not given. vLLM schedules
#: them continuously (up to its own max_num_seqs at a time); the window bounds what is
#: held at once: the decoded images and vLLM's processed inputs of every request in it.
DEFAULT_WINDOW = 1024


class VllmBackend(GenerationBackend):
    """Generation through a single-GPU vLLM engine, one `generate` call per window.

    `generate` hands vLLM the whole window, so it schedules continuously; vLLM's own
    detokeniser is off (`detokenize=False`): the text and its character offsets are made
    once, by `finish`, which the adapter runs on a thread while the next window
    generates (`HFTextBoxAdapter.predict_stream`)."""

    name = "vllm"
    overlaps_finish = True

    def __init__(
        self,
        llm: Any,
        *,
        generation_config: Any,
        config: Any,
        dtype: str,
        mm_processor_kwargs: dict[str, Any] | None = None,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        if int(window) < 1:
            raise UsageError(f"--model-arg window must be a positive number of requests, got {window!r}")
        self.llm = llm
        self.generation_config = generation_config
        self.config = config
        self.dtype = dtype
        self.mm_processor_kwargs = dict(mm_processor_kwargs or {})
        self.window = int(window)

    @property
    def repetition_penalty(self) -> float:
        return float(getattr(self.generation_config, "repetition_penalty", None) or 1.0)

    def sampling_params(self, call: GenerationCall) -> Any:
        from vllm import SamplingParams

        return SamplingParams(
            temperature=0.0,
            max_tokens=call.max_new_tokens,
            logprobs=0,  # the chosen token's log-probability only
            repetition_penalty=self.repetition_penalty,
            stop_token_ids=sorted(call.eos_ids),
            skip_special_tokens=False,
            detokenize=False,  # `finish` decodes once, with offsets, off the engine's path
            seed=0,
        )

    def generate(self, call: GenerationCall) -> tuple[Any, Any]:
        prompts = [{"prompt": t, "multi_modal_data": {"image": im}} for t, im in zip(call.texts, call.images)]
        outputs = self.llm.generate(prompts, self.sampling_params(call), use_tqdm=False)
        # vLLM runs the processor itself: the family computes what its frame reads from the
        # processor's outputs (the Qwen grid) with the limits vLLM's processor was given.
        # (completion, prompt length): vLLM's prompt ids hold the image's placeholder tokens
        raw = [(o.outputs[0], len(getattr(o, "prompt_token_ids", None) or ()) or None) for o in outputs]
        return raw, call.frame_inputs(call.requests, self.mm_processor_kwargs)

    def finish(self, call: GenerationCall, raw: Any) -> list[Generated]:
        return [generated_from_vllm(c, call.tokenizer, call.eos_ids, prompt_tokens=n) for c, n in raw]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "vllm",
            "model_class": "vllm.LLM",
            "n_parameters": None,
            "dtype": self.dtype,
            "vllm_version": _version("vllm"),
            "mm_processor_kwargs": self.mm_processor_kwargs,
            "vllm_window": self.window,
            "generation": {"repetition_penalty_counts": "vLLM: prompt and output tokens (no padding in vLLM)"},
        }

    def close(self) -> None:
        self.llm = None


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def load(
    family: TextFamily,
    model_id: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    attn: str | None = None,
    revision: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    gpu_memory_utilization: float = 0.85,
    max_model_len: int | None = None,
    window: int = DEFAULT_WINDOW,
    **options: Any,
):
    """A `family` adapter generating with vLLM on the GPU `device` names."""
    from padt_eval.models.hf.adapter import check_options
    from padt_eval.models.hf.loading import set_pixel_limits

    served = vllm_families()
    if family.name not in served:
        raise UsageError(f"--backend vllm serves {', '.join(served)}; model family {family.name!r} runs on transformers only")
    if importlib.util.find_spec("vllm") is None:
        raise UsageError("--backend vllm needs the vllm package: pip install 'padt-eval[vllm]'")
    check_options(family.name, options, ("prompt_style", "max_new_tokens"))
    if attn is not None:
        raise UsageError("--backend vllm chooses its own attention kernels; drop --attn")
    isolate_gpu(device)
    from transformers import AutoConfig, AutoProcessor, GenerationConfig
    from vllm import LLM

    adapter_cls = resolve(family.adapter)
    processor = AutoProcessor.from_pretrained(model_id, revision=revision)
    mm_kwargs = {k: v for k, v in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if v is not None}
    if mm_kwargs:
        set_pixel_limits(processor.image_processor, min_pixels, max_pixels)
    try:
        generation_config = GenerationConfig.from_pretrained(model_id, revision=revision)
    except OSError:  # a checkpoint without generation_config.json
        generation_config = None
    engine_kwargs: dict[str, Any] = {"max_model_len": max_model_len} if max_model_len else {}
    llm = LLM(
        model=model_id,
        revision=revision,
        dtype=dtype or "bfloat16",
        seed=0,
        gpu_memory_utilization=gpu_memory_utilization,
        mm_processor_kwargs=mm_kwargs or None,
        limit_mm_per_prompt={"image": 1},
        **engine_kwargs,
    )
    backend = VllmBackend(
        llm,
        generation_config=generation_config,
        config=AutoConfig.from_pretrained(model_id, revision=revision),
        dtype=dtype or "bfloat16",
        mm_processor_kwargs=mm_kwargs,
        window=window,
    )
    return adapter_cls(
        None, processor, name=model_id, family=family.name, device=device, revision=revision, backend=backend, **options
    )
