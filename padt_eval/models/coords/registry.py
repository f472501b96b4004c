"""One declaration per coordinate-text family: `register_model(TextFamily(...))`.

A `TextFamily` entry owns everything the suite knows about a family: its name and
detection rule, its text format and parser, its adapter as a lazy `"module:Class"`
target, its prompt styles and the default one, whether vLLM runs it, and its
tiny-checkpoint builder (a lazy `"module:function"` target). Everything else is derived
from the entries: the `--format` table (`FORMATS`, `get_format`), the families vLLM
serves, the families with the paper's prompts, the CLI's help lists (`help_text.py`), and
the `ModelFamily` that `models.base.families()` lists (models/families.py turns each entry
into one). Targets are resolved only when they are used.

Like the parsers, this is pure Python that imports nothing of models/ outside coords/:
scoring a predictions file with `--format` reads this table and never loads the model
side. The built-in entries are in `coords/families.py`; a family declared elsewhere (a
plugin, a test) calls `register_model` itself and appears everywhere at once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from padt_eval.core.errors import UsageError, did_you_mean
from padt_eval.models.coords.common import Frame, ParseResult


@dataclass(frozen=True)
class TextFormat:
    """One family's coordinate text: how it looks, its frame, and its parser."""

    name: str
    syntax: str
    frame: str
    parse: Callable[[str, Frame], ParseResult]
    needs_input_size: bool = False  # the frame is the resized model input (Qwen2.5-VL)
    parse_masks: Callable[[str, Frame], ParseResult] | None = None  # RES output as polygons


@dataclass(frozen=True)
class TextFamily:
    """The one declaration of a coordinate-text family."""

    name: str
    description: str
    #: Whether a checkpoint is this family, from its config.json dict and its name; and the
    #: detection order (lower first; see `ModelFamily.precedence`).
    detect: Callable[[dict, str], bool] | None = None
    precedence: int = 100
    #: Its answer syntax, frame and parser (`--format NAME`); None: it writes boxes and masks.
    format: TextFormat | None = None
    #: The adapter, `"module:Class"` (an `HFTextBoxAdapter`), resolved when a model loads;
    #: None: scored from its own outputs only.
    adapter: str | None = None
    #: transformers class per config.json `model_type`; the first is used for any other type.
    model_classes: Mapping[str, str] = field(default_factory=dict)
    #: Its prompt styles (`--prompt-style`) and the one used when none is given.
    prompt_styles: tuple[str, ...] = ("native",)
    default_prompt_style: str = "native"
    #: The processor has a dynamic resize (`--min-pixels/--max-pixels`).
    dynamic_resize: bool = False
    #: vLLM serves it (`--backend vllm`).
    vllm: bool = False
    #: `"module:function"` writing a tiny random checkpoint of it: `build(out, real_vocab=False)`.
    tiny: str | None = None
    requirements: tuple[str, ...] = ()
    how_to_score: str | None = None  # for a family that does not run here, when not `--format NAME`

    def model_class(self, config: dict | None) -> str:
        """The transformers class for a checkpoint with this config.json."""
        model_type = (config or {}).get("model_type")
        return self.model_classes.get(model_type) or next(iter(self.model_classes.values()))


def resolve(target: str) -> Any:
    """The object a lazy `"module:attribute"` target names (imports the module)."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


#: Generation backends (`--backend`) and where each one's loader is, `load(entry, model,
#: **options)`: transformers, or vLLM (only imported when asked for).
BACKEND_LOADERS = {"hf": "padt_eval.models.hf.loading:load", "vllm": "padt_eval.models.vllm_backend:load"}
BACKENDS = tuple(BACKEND_LOADERS)

_ENTRIES: dict[str, TextFamily] = {}
_LISTENERS: list[Callable[[TextFamily], None]] = []
#: The module of the built-in entries (same package; imported on first read of the table).
_BUILTIN_ENTRIES = "padt_eval.models.coords.families"


def register_model(entry: TextFamily) -> TextFamily:
    """Register a coordinate-text family from its one entry."""
    if entry.name in _ENTRIES:
        raise ValueError(f"coordinate-text family {entry.name!r} registered twice")
    if entry.format is not None and entry.format.name != entry.name:
        raise ValueError(f"coordinate-text family {entry.name!r}: its --format is its name, not {entry.format.name!r}")
    if entry.adapter is not None and not entry.model_classes:
        raise ValueError(f"coordinate-text family {entry.name!r} names an adapter but no transformers class")
    if entry.default_prompt_style not in entry.prompt_styles:
        raise ValueError(f"coordinate-text family {entry.name!r}: default prompt style not among its styles")
    _ENTRIES[entry.name] = entry
    for listener in _LISTENERS:
        listener(entry)
    return entry


def on_register(listener: Callable[[TextFamily], None]) -> None:
    """Call `listener` with every entry, those registered so far and those to come."""
    so_far = text_families()  # the built-in entries first, before the listener is on the list
    _LISTENERS.append(listener)
    for entry in so_far.values():
        listener(entry)


def text_families() -> dict[str, TextFamily]:
    """Every registered coordinate-text entry, in registration order (built-ins first)."""
    importlib.import_module(_BUILTIN_ENTRIES)
    return dict(_ENTRIES)


def runnable_families() -> tuple[str, ...]:
    """The families padt-eval runs itself (`--model`): those with an adapter."""
    return tuple(name for name, e in text_families().items() if e.adapter is not None)


def vllm_families() -> tuple[str, ...]:
    return tuple(name for name, e in text_families().items() if e.vllm and e.adapter is not None)


def paper_style_families() -> tuple[str, ...]:
    """The families that offer the PaDT paper's baseline prompts (A.3): `--prompt-style paper`."""
    return tuple(name for name, e in text_families().items() if "paper" in e.prompt_styles and e.adapter is not None)


def tiny_builders() -> dict[str, str]:
    """family -> its tiny-checkpoint builder target."""
    return {name: e.tiny for name, e in text_families().items() if e.tiny is not None}


class _Formats(Mapping[str, TextFormat]):
    """Every registered family's text format by `--format` name, in registration order;
    built from the entries when read, so a family registered later is in it too."""

    def _table(self) -> dict[str, TextFormat]:
        return {name: e.format for name, e in text_families().items() if e.format is not None}

    def __getitem__(self, name: str) -> TextFormat:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


FORMATS: Mapping[str, TextFormat] = _Formats()


def get_format(name: str) -> TextFormat:
    if name not in FORMATS:
        raise UsageError(f"unknown --format {name!r}{did_you_mean(name, FORMATS)}; known formats: {', '.join(FORMATS)}")
    return FORMATS[name]
