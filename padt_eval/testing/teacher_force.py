"""PaDT's chain on given completions instead of generated ones (teacher forcing).

The reference trainer gets its VRT features this way, and the parity fixture records a
teacher-forced batch beside the generated ones: one forward over prompt + completion
gives the state that predicts each completion token, and the rest of the chain (parse,
object features, decoder, post-processing) is the pipeline's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from padt_eval.models.padt.generation import _prompt_inputs  # the same positions and image slots as prefill's
from padt_eval.models.padt.host_meta import host_grids, host_meta
from padt_eval.models.padt.pipeline import BatchRun, PadtPipeline
from padt_eval.models.padt.processor import PreparedImage
from padt_eval.models.padt.vocab import ExtendedVocab, merged_counts


@torch.inference_mode()
def teacher_forced_states(
    model,
    vocab: ExtendedVocab,
    merged: torch.Tensor,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    grid_thw: torch.Tensor,
    prompt_length: int,
    *,
    with_logits: bool = False,
    prompt=None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One forward over prompt + completion (GLOBAL ids); the final-layer states at positions
    prompt_length-1 ... end-1, i.e. the state that predicts each completion token.
    `prompt`: the host layout of the whole prompt + completion sequence."""
    positions, _, slots = _prompt_inputs(model, input_ids, attention_mask, grid_thw, prompt)
    embeds = model.prompt_embeds(input_ids, vocab, merged, image_slots=slots)
    hidden, _ = model.run_language_model(embeds, attention_mask, positions, None)
    shifted = hidden[:, prompt_length - 1 : -1]
    return shifted, (vocab.logits(shifted) if with_logits else None)


def prepare_forced(pipe: PadtPipeline, images: Sequence[PreparedImage], prompts: Sequence[str], completions: Sequence[str]):
    """`pipe.prepare`'s batch plus the completions' ids and mask, on the model's device; the
    host layout covers prompt + completion."""
    inputs = pipe.processor.batch(images, prompts)
    grids = host_grids(inputs.image_grid_thw)  # a CPU tensor: no sync
    comp_ids, comp_mask = pipe.processor.completions(completions)
    full_ids = torch.cat((inputs.input_ids, comp_ids), dim=1)
    inputs.meta = host_meta(pipe.model, grids, full_ids, torch.cat((inputs.attention_mask, comp_mask), dim=1))
    dev = pipe.model.device
    return inputs.to(dev), comp_ids.to(dev), comp_mask.to(dev)


def teacher_force(
    pipe: PadtPipeline, images: Sequence[PreparedImage], prompts: Sequence[str], completions: Sequence[str]
) -> BatchRun:
    """Parse and decode given completions (the reference trainer's way of getting VRT features)."""
    inputs, comp_ids, comp_mask = prepare_forced(pipe, images, prompts, completions)
    grid = inputs.image_grid_thw
    enc = pipe.encode(inputs)
    full = pipe.global_ids(torch.cat((inputs.input_ids, comp_ids), dim=1), grid)
    mask = torch.cat((inputs.attention_mask, comp_mask), dim=1)
    hidden, logits = teacher_forced_states(
        pipe.model, enc.vocab, enc.vision.merged, full, mask, grid, inputs.input_ids.shape[1],
        with_logits=True, prompt=inputs.meta.prompt,
    )  # fmt: skip
    strings, parses = pipe.parse(comp_ids, enc.grids, [True] * len(completions))
    feats = pipe.features(parses, hidden, None)
    return pipe.finish(
        inputs,
        enc,
        comp_ids,
        strings,
        parses,
        feats,
        completion_mask=comp_mask,
        tf_hidden=hidden,
        tf_logits=logits,
        input_ids_global=full,
    )


def prototype_features(pipe: PadtPipeline, run: BatchRun) -> list[list[torch.Tensor]]:
    """Each object's prototype rows (the trainer's warm-up decoder input)."""
    counts = merged_counts(run.inputs.image_grid_thw, pipe.cfg.merge_size)
    offsets = (torch.cumsum(counts, 0) - counts).tolist()
    protos = run.encoded.prototypes
    return [
        [protos[torch.tensor(o.vrt_ids, device=protos.device) + offsets[b]] for o in p.objects] for b, p in enumerate(run.parses)
    ]
