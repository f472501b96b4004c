"""The model interface and the registry of model families.

An adapter turns a batch of `ModelRequest`s into `Prediction`s in the canonical frame
(original-image pixels, xyxy boxes, COCO RLE masks). It never sees a dataset name or
ground truth: the runner hands it requests built by the task, and the task has already
filled in the prompt of the adapter's `prompt_key`.

Two names, two meanings: `family` is always the model family ("qwen2_5_vl", "padt"),
`prompt_key` (a `PromptKey`: family + prompt style) says which of the task's prompt
tables the adapter is asked from. The prompts themselves live in tasks/.

A family is registered once: the coordinate-text families as one `TextFamily` entry each
(`models/registry.py`), PaDT and the demo's model with `register_family(ModelFamily(...))`.
Loading is lazy so that `padt-eval models` and the scoring commands never import torch.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from padt_eval.core.errors import UsageError, did_you_mean
from padt_eval.core.types import ModelRequest, Prediction, PromptKey


class ModelAdapter(abc.ABC):
    """One loaded model (or a stand-in such as a predictions file)."""

    #: the model family ("padt", "qwen2_5_vl"); None for a stand-in that is no model
    #: (a predictions file)
    family: str | None = None
    #: which prompt table the task fills `ModelRequest.prompt` from
    #: (`PromptKey("qwen2_5_vl", "paper")`); None: this adapter takes no prompt
    prompt_key: PromptKey | None = None

    @abc.abstractmethod
    def predict(self, requests: Sequence[ModelRequest], prepared: Sequence[Any]) -> list[Prediction]:
        """Return one Prediction per request, in the same order, with the same sample_ids.

        `prepared[i]` is `preprocessor()`'s result for `requests[i]`. Inputs are clean: a
        request whose preprocessing raised, or that lacks the prompt an adapter with a
        `prompt_key` needs, is not passed at all; the runner makes it that sample's ERROR,
        with the reason (runner/prepare.py; `runner.prepare.predict_requests` runs one
        batch the runner's way). A failure that concerns one sample's output (unparseable
        text) becomes that sample's `parse_status`/`parse_reason`; it must not raise.
        """

    #: Requests per `predict` call this adapter wants when the runner's batch (-b) is too
    #: small for it: vLLM schedules a whole window itself (continuous batching). None: -b.
    window: int | None = None

    def predict_stream(
        self, batches: Iterable[tuple[list[ModelRequest], list[Any] | None]]
    ) -> Iterator[tuple[list[ModelRequest], list[Prediction]]]:
        """(requests, predictions) for each (requests, prepared) batch, in order. The
        runner drives every adapter through this; the default is `predict` batch by
        batch, and an adapter may overlap one batch's post-processing with the next
        batch's generation (models/hf/adapter.py under vLLM)."""
        for requests, prepared in batches:
            yield requests, self.predict(requests, prepared)

    def preprocessor(self) -> Callable[[ModelRequest], Any]:
        """A picklable function that prepares one request's model input on the CPU (open
        the image, resize, tokenise ...). The runner calls it in DataLoader worker
        processes, ahead of the model. The default prepares nothing: `prepared[i]` is
        the request itself."""
        return unprepared

    def describe(self) -> dict[str, Any]:
        """What identifies this model in a manifest: id, revision, weight hash, dtype,
        generation settings, processor settings. Values must be JSON-serialisable."""
        return {"family": self.family}

    def close(self) -> None:  # noqa: B027  (an optional hook: an adapter holding nothing releases nothing)
        """Release resources (GPU memory, open files)."""


def unprepared(request: ModelRequest) -> ModelRequest:
    """The default preprocessor: an adapter that reads its requests only."""
    return request


@dataclass(frozen=True)
class ModelFamily:
    """A registered family of models that share one output format."""

    name: str
    description: str
    coordinate_frame: str
    output_format: str
    loader: Callable[..., ModelAdapter] | None = None  # None: scored from predictions files only
    requirements: tuple[str, ...] = field(default_factory=tuple)  # importable modules it needs
    # Whether a checkpoint belongs to this family, from its config.json dict and its name.
    detect: Callable[[dict, str], bool] | None = None
    # Detection order: families with a lower value are asked first, and the first level
    # with a match decides. A model that specialises another one's config (PaDT is a
    # Qwen2.5-VL config plus `vl_decoder`; VLM-R1 is a Qwen2.5-VL checkpoint told apart by
    # its name) sits at a lower level than the family it specialises.
    precedence: int = 100
    # How to score a family that does not run here (default: its raw text with --format NAME).
    how_to_score: str | None = None
    # Whether its adapter is asked with prompts (False: the prompt key is None), and the
    # prompt styles it offers (`--prompt-style`; empty: one unstyled table, keyed by the
    # family name) with the one used when none is given.
    takes_prompts: bool = False
    prompt_styles: tuple[str, ...] = ()
    default_prompt_style: str | None = None
    # The dtype a run on this device kind ("cpu" | "cuda") uses when --dtype is not given,
    # from the load options; None: the family has no dtype (it runs no network).
    default_dtype: Callable[[str, dict], str | None] | None = None
    # A check of the load options (`-O KEY=VALUE` and the named flags) that needs no model:
    # unknown keys, values the loader would refuse. Raises UsageError. A run calls it
    # (`check_load_options`) before it writes anything, so a typo never claims a folder.
    check_options: Callable[[dict], None] | None = None

    def check_load_options(self, options: dict) -> None:
        """Refuse, before a model run writes anything, what loading the model would refuse
        only after the run has claimed its folder."""
        ok, why = self.runs_here()
        if not ok:
            raise UsageError(f"model family {self.name!r} cannot run here: {why}")
        if self.check_options is not None:
            self.check_options(dict(options))

    def resolved_dtype(self, device: str, options: dict | None = None) -> str | None:
        """The dtype a run uses, as resolved (for fingerprints): `--dtype` or the default."""
        options = dict(options or {})
        if options.get("dtype") is not None:
            return str(options["dtype"])
        return self.default_dtype(device, options) if self.default_dtype is not None else None

    def prompt_key(self, options: dict | None = None) -> PromptKey | None:
        """The prompt key a run with these load options uses (`prompt_style` chooses among
        the family's styles); None for a family that takes no prompt."""
        style = (options or {}).get("prompt_style")
        if not self.takes_prompts:
            return None
        if not self.prompt_styles:
            if style is not None:
                raise UsageError(f"model family {self.name!r} has one set of prompts; --prompt-style does not apply")
            return PromptKey(self.name)
        style = style or self.default_prompt_style
        if style not in ALL_PROMPT_STYLES:
            raise UsageError(f"--prompt-style must be one of {', '.join(ALL_PROMPT_STYLES)}, got {style!r}")
        if style not in self.prompt_styles:
            others = ", ".join(self.prompt_styles)
            raise UsageError(f"model family {self.name!r} has no {style!r} prompts; use --prompt-style {others}")
        return PromptKey(self.name, style)

    def runs_here(self) -> tuple[bool, str]:
        """Whether this family can run inference on this machine, and why not."""
        if self.loader is None:
            return False, self.how_to_score or (
                "needs its own repository; score its raw text with --predictions F --format " + self.name
            )
        import importlib.util

        for mod in self.requirements:
            if importlib.util.find_spec(mod) is None:
                return False, f"python module '{mod}' is not installed"
        return True, "yes"


#: The dtypes a model can be loaded in (`--dtype`).
DTYPES = ("float32", "bfloat16", "float16")


def refuse_unknown_options(family: str, options: dict, accepted: Iterable[str]) -> None:
    """UsageError naming the keys `family` does not take, and the ones it does."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UsageError(
            f"model family {family!r} does not take option(s) {', '.join(unknown)} (-O KEY=VALUE or its flag); "
            f"it takes: {', '.join(sorted(accepted))}"
        )


def check_dtype(dtype: Any) -> None:
    if dtype is not None and dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")


def check_flash_attention(attn: Any) -> None:
    """`flash_attention_2` needs the flash-attn package; refused up front when it is missing."""
    import importlib.util

    if attn == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        raise UsageError(
            "--attn flash_attention_2 needs the flash-attn package, which is not installed here; "
            "use --attn sdpa (same results within float rounding) or install flash-attn on a CUDA machine"
        )


#: The prompt styles of the coordinate-text baselines (their tables: tasks/baseline_prompts.py).
ALL_PROMPT_STYLES = ("paper", "native")

_FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    if family.name in _FAMILIES:
        raise ValueError(f"model family {family.name!r} registered twice")
    _FAMILIES[family.name] = family
    return family


def families() -> dict[str, ModelFamily]:
    _import_builtin_families()
    return dict(_FAMILIES)


def get_family(name: str) -> ModelFamily:
    fams = families()
    if name not in fams:
        raise UsageError(f"unknown model family {name!r}{did_you_mean(name, fams)}; known: {', '.join(sorted(fams))}")
    return fams[name]


def resolved_dtype_of(family: str, device: str, options: dict | None = None) -> str | None:
    """`family`'s dtype on `device` with `options` (`--dtype` when given; None when unknown)."""
    fam = families().get(family)
    if fam is None:
        return (options or {}).get("dtype")
    return fam.resolved_dtype(device, options)


def prompt_key_of(family: str, options: dict | None = None) -> PromptKey | None:
    """The prompt key of `family` run with `options` (None: it takes no prompt)."""
    return get_family(family).prompt_key(options)


def _import_builtin_families() -> None:
    """Import the modules that register the built-in families (cheap: no torch at import),
    then those listed by the layers above (`core.family_modules`: the demo's, a plugin's)."""
    import importlib

    from padt_eval.core.family_modules import family_modules

    for module in _BUILTIN_FAMILY_MODULES + family_modules():
        importlib.import_module(module)


# The modules of models/ whose import registers the built-in families (PaDT's, and the
# coordinate-text entries). A family declared above models/ (the demo's colour-finder, a
# plugin) is listed by its own layer (core.family_modules); nothing here names it.
_BUILTIN_FAMILY_MODULES: list[str] = ["padt_eval.models.padt.family", "padt_eval.models.families"]
