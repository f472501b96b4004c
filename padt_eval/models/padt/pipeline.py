"""One batch through PaDT, end to end, keeping every intermediate the parity tests check.

  prepared images + prompts
    -> processor.batch            input ids (local), pixel values, grids
    -> model.encode_images        merged / high-res / rotary tables, prototypes
    -> model.extended_vocab       E + K vocabulary and per-sample logit mask
    -> generation.generate        sequences (global ids), final-layer state per step
    -> vocab.to_local + parsing   objects = (label, VRT run, step positions)
    -> object features            step states (compat: step 0 = the whole prompt block)
    -> vl_decode                  boxes, score logits, mask logits
    -> postprocess                canonical boxes, scores, RLE masks

`padt_eval.testing.teacher_force` runs the same chain on given completions instead of
generating (the parity tests' teacher-forced batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from padt_eval.core.types import ObjectPred

from .batch_run import BatchRun, Encoded, PostObject
from .decoder import DecoderOutput
from .generation import GenerationSettings, generate
from .host_meta import host_grids, host_meta
from .parsing import parse_completion
from .postprocess import box_compat, box_default, mask_bits, mask_probability, rle_from_bits
from .processor import BatchInputs, PadtProcessor, PreparedImage
from .vocab import to_global, to_local


class PadtPipeline:
    def __init__(self, model, processor: PadtProcessor, settings: GenerationSettings, *, compat: bool = False):
        self.model = model
        self.processor = processor
        self.settings = settings
        self.compat = compat
        # Benchmarks only: another decoding loop with `generate`'s signature in place of ours
        # (padt_eval.testing.reference_strategy, the reference's), to measure what ours saves.
        self.alternative_generate = None
        # torch.compile of the decode step (`--model-arg compile=true`); off until a GPU run shows it pays
        self.compile_step = False
        # continuous batching of a stream of samples (`continuous`); False, or compat, or an
        # alternative loop: today's static batches
        self.continuous = True
        self.last_stream = None  # the last `run_stream`'s decoder (its `stats`: bench_continuous)
        self.cfg = model.cfg
        if processor is not None:  # None: the device stages only (the fake-CUDA runs, `fake_run`)
            processor.tokenizer.prepare(self.cfg.vocab_size)

    # -- stages ------------------------------------------------------------------------------
    def prepare(self, images: Sequence[PreparedImage], prompts: Sequence[str]) -> BatchInputs:
        """The padded batch with its host metadata (`host_meta`), moved to the model's device
        once. (Teacher forcing's variant, with completions: padt_eval.testing.teacher_force.)"""
        inputs = self.processor.batch(images, prompts)
        grids = host_grids(inputs.image_grid_thw)  # a CPU tensor: no sync
        inputs.meta = host_meta(self.model, grids, inputs.input_ids, inputs.attention_mask)
        return inputs.to(self.model.device)

    @torch.inference_mode()
    def encode(self, inputs: BatchInputs) -> Encoded:
        meta = inputs.meta
        layout, grids = (meta.vision, meta.grids) if meta is not None else (None, None)
        vis, protos = self.model.encode_images(inputs.pixel_values, inputs.image_grid_thw, layout=layout)
        return Encoded(vis, protos, self.model.extended_vocab(protos, inputs.image_grid_thw, grids=grids), grids)

    def global_ids(self, ids: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return to_global(ids, grid, self.cfg.merge_size, self.cfg.vocab_size)

    def local_ids(self, ids: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return to_local(ids, grid, self.cfg.merge_size, self.cfg.vocab_size)

    def parse(self, completion: torch.Tensor, grid, finished: Sequence[bool]):
        """`grid`: the grids as a tensor or as (t, h, w) ints (`Encoded.grids`)."""
        tok = self.processor.tokenizer
        counts = [t * h * w // self.cfg.merge_size**2 for t, h, w in host_grids(grid)]
        strings, parses = [], []
        rows = completion if isinstance(completion, list) else completion.tolist()
        for b, row in enumerate(rows):
            s = tok.token_strings(row)
            strings.append(s)
            parses.append(
                parse_completion(
                    row,
                    s,
                    vocab_size=self.cfg.vocab_size,
                    num_vrts=counts[b],
                    eos_ids=self.settings.eos_token_ids or [tok.eos_id],
                    eos_token=tok.eos_token,
                    finished=bool(finished[b]),
                    compat=self.compat,
                )
            )
        return strings, parses

    def features(self, parses, step_hidden: torch.Tensor, prompt_hidden: torch.Tensor | None):
        """Per object: the states that produced its VRTs, one row per VRT. In compat mode a
        VRT at step 0 contributes the whole prompt's states (the reference's layout)."""
        out = []
        for b, p in enumerate(parses):
            objs = []
            for o in p.objects:
                rows = []
                for s in o.steps:
                    if s == 0 and self.compat and prompt_hidden is not None:
                        rows.append(prompt_hidden[b])
                    else:
                        rows.append(step_hidden[b, s : s + 1])
                objs.append(torch.cat(rows, dim=0))
            out.append(objs)
        return out

    @torch.inference_mode()
    def vl_decode(self, feats: list[list[torch.Tensor]], enc: Encoded, grid: torch.Tensor) -> DecoderOutput:
        """Gather each object's image memory and run the decoder (empty input -> empty output).
        The grids come from `enc.grids` when the host knows them, else from `grid`."""
        unit = self.cfg.merge_size**2
        grids = enc.grids if enc.grids is not None else host_grids(grid)
        patches = [t * h * w for t, h, w in grids]
        starts = [sum(patches[:i]) for i in range(len(patches))]
        obj_feats = [f for objs in feats for f in objs]
        obj_image = [b for b, objs in enumerate(feats) for _ in objs]  # row b owns image b
        dev, dt = enc.prototypes.device, enc.prototypes.dtype
        if not obj_feats:
            return DecoderOutput(
                boxes=torch.zeros((0, 4), device=dev, dtype=dt),
                score_logits=torch.zeros((0, 1), device=dev, dtype=dt),
                mask_logits=torch.zeros((0, 8, 8), device=dev, dtype=dt),
                valid_hw=torch.zeros((0, 2), device=dev, dtype=torch.long),
                sample_idx=[],
            )
        vis = enc.vision
        low = [enc.prototypes[s // unit : (s + p) // unit] for s, p in zip(starts, patches)]
        high = [vis.high_res[s : s + p] for s, p in zip(starts, patches)]
        pe = [(vis.cos[s : s + p], vis.sin[s : s + p]) for s, p in zip(starts, patches)]
        boxes, scores, masks, hw = self.model.decode_objects(obj_feats, obj_image, low, high, pe, grids)
        valid = [(grids[i][1], grids[i][2]) for i in obj_image]
        return DecoderOutput(boxes, scores, masks, hw, list(obj_image), valid_hw_host=valid)

    def stage_outputs(self, dec: DecoderOutput, sizes) -> tuple[torch.Tensor, list, torch.Tensor | None]:
        """The device half of `postprocess`: (N, 5) boxes + score probabilities in float32,
        each object's (H, W) mask probabilities at its image's original size, and all masks'
        thresholded booleans flattened into one tensor (None without masks)."""
        # float32 holds bf16/fp16 values exactly, so these become the same Python floats
        boxes_scores = torch.cat((dec.boxes.float(), torch.sigmoid(dec.score_logits[:, :1].float())), dim=1)
        valid_hw = dec.valid_hw_host if dec.valid_hw_host is not None else dec.valid_hw.tolist()
        probs: list = [None] * len(dec.sample_idx)
        if dec.mask_logits is None:
            return boxes_scores, probs, None
        for j, b in enumerate(dec.sample_idx):
            width, height = sizes[b]
            probs[j] = mask_probability(dec.mask_logits[j], tuple(valid_hw[j]), width, height, keep_dtype=self.compat)
        return boxes_scores, probs, mask_bits(probs)

    def postprocess(self, dec: DecoderOutput, parses, sizes) -> list[list[PostObject]]:
        """Boxes and scores of the whole batch come to the host in one copy; masks are
        resized and thresholded on the device (`stage_outputs`), and their booleans come in
        one more."""
        out: list[list[PostObject]] = [[] for _ in parses]
        labels = [o.label for p in parses for o in p.objects]
        if not dec.sample_idx:
            return out
        boxes_scores, probs, bits = self.stage_outputs(dec, sizes)
        host = boxes_scores.cpu().tolist()
        masks: list = [None] * len(dec.sample_idx) if bits is None else rle_from_bits(bits, probs)
        for j, b in enumerate(dec.sample_idx):
            width, height = sizes[b]
            *box4, score = host[j]
            if self.compat:
                xywh, box = box_compat(box4, width, height)
            else:
                xywh, box = None, box_default(box4, width, height)
            out[b].append(PostObject(ObjectPred(bbox=box, score=score, label=labels[j], mask=masks[j]), xywh, probs[j]))
        return out

    # -- end to end ----------------------------------------------------------------------------
    def run(self, images: Sequence[PreparedImage], prompts: Sequence[str], *, record_logits: bool = False) -> BatchRun:
        inputs = self.prepare(images, prompts)
        grid = inputs.image_grid_thw
        enc = self.encode(inputs)
        ids = self.global_ids(inputs.input_ids, grid)
        args = (self.model, enc.vocab, enc.vision.merged, ids, inputs.attention_mask, grid, self.settings)
        # default mode: batch-invariant greedy decoding (padding not penalised)
        options = dict(keep_prompt_hidden=self.compat, record_logits=record_logits, penalise_padding=self.compat)
        if self.alternative_generate is not None:
            gen = self.alternative_generate(*args, **options)
        else:
            gen = generate(*args, **options, compile_step=self.compile_step, prompt=inputs.meta.prompt)
        completion = self.local_ids(gen.sequences, grid)[:, gen.prompt_length :]
        rows, finished = completion.tolist(), gen.finished.tolist()  # the generated ids come to the host once
        strings, parses = self.parse(rows, enc.grids, finished)
        feats = self.features(parses, gen.step_hidden, gen.prompt_hidden)
        return self.finish(
            inputs, enc, completion, strings, parses, feats,
            generation=gen, input_ids_global=ids, completion_rows=rows, finished_rows=finished,
            prompt_tokens=inputs.meta.prompt.row_tokens,
        )  # fmt: skip

    def streams(self) -> bool:
        """Whether a stream of samples runs through continuous batching (`run_stream`)."""
        return self.continuous and not self.compat and self.alternative_generate is None

    def run_stream(self, items, slots: int, **options):
        """(key, one-sample `BatchRun`) for each `continuous.StreamItem`, as samples end, through
        `slots` decode slots; `options`: `ContinuousDecoder`'s (check_every)."""
        from .continuous import ContinuousDecoder

        decoder = ContinuousDecoder(self, slots, compile_step=self.compile_step, **options)
        self.last_stream = decoder
        return decoder.run(items)

    def finish(self, inputs: BatchInputs, enc: Encoded, completion_ids, strings, parses, feats, **extra) -> BatchRun:
        """The last stages (decoder, post-processing) on a batch's object features, and the
        `BatchRun` holding every stage; `extra`: the run's own fields (generation, ...).
        Shared with teacher forcing (padt_eval.testing.teacher_force)."""
        dec = self.vl_decode(feats, enc, inputs.image_grid_thw)
        return BatchRun(
            inputs=inputs,
            encoded=enc,
            completion_ids=completion_ids,
            token_strings=strings,
            parses=parses,
            features=feats,
            decoded=dec,
            objects=self.postprocess(dec, parses, inputs.image_sizes),
            **extra,
        )
