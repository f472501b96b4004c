"""What one PaDT batch run keeps: its encoded images, and every intermediate the parity
tests check (`PadtPipeline.run`, `testing.teacher_force`, and each sample of continuous batching)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from padt_eval.core.types import ObjectPred

from .decoder import DecoderOutput
from .generation import GenerationResult
from .host_meta import Grid
from .parsing import ParseResult
from .processor import BatchInputs
from .vision import VisionOutputs
from .vocab import ExtendedVocab


@dataclass
class Encoded:
    vision: VisionOutputs
    prototypes: torch.Tensor
    vocab: ExtendedVocab
    grids: list[Grid] | None = None  # the batch's (t, h, w) as ints, when known on the host


@dataclass
class PostObject:
    pred: ObjectPred
    compat_xywh: list[int] | None
    mask_prob: torch.Tensor | None


@dataclass
class BatchRun:
    inputs: BatchInputs
    encoded: Encoded
    completion_ids: torch.Tensor  # (B, T) local ids
    token_strings: list[list[str]]
    parses: list[ParseResult]
    features: list[list[torch.Tensor]]  # per sample, per object: (rows, D)
    decoded: DecoderOutput
    objects: list[list[PostObject]]  # per sample, in decoder order
    generation: GenerationResult | None = None
    completion_mask: torch.Tensor | None = None  # teacher forcing: the completions' padding mask
    tf_hidden: torch.Tensor | None = None
    tf_logits: torch.Tensor | None = None
    input_ids_global: torch.Tensor | None = None
    # host copies read once per batch (pipeline.run), so per-sample metadata reads no device value
    completion_rows: list[list[int]] | None = None
    finished_rows: list[bool] | None = None
    prompt_tokens: list[int] | None = None
