"""Continuous batching of PaDT: a stream of samples through B decode slots.

The host loop around `slots.SlotStep`:

  admit    pull as many samples as there are free slots; run their images and prompts
           through the vision tower and the prefill *together, and only them*; copy their
           keys/values, attention columns, rope deltas, prototypes and penalty rows into
           the free slots; choose their first tokens (`SlotStep.choose` on those rows);
  decode   `check_every` fixed-shape steps over all slots, no host read;
  check    read the (B,) live flags (the loop's one periodic sync, as the static loop reads
           "all rows done?"); the slots that ended are harvested;
  harvest  read their tokens once, cut each at its own end, and run parsing, the PaDT
           decoder and post-processing for them (`PadtPipeline` stages, unchanged); their
           slots are free for the next admission.

Each sample's answer is its batch-1 answer in float32, whatever it shares the slots with
and in whatever order samples arrive: the prefill is batch-invariant (left padding not
penalised, default mode), a slot's step sees its own cache columns, positions,
prototypes and penalty row only, and sampling noise depends on the sample's seed.
`compat` and the benchmarks' reference strategy keep the static batches (`generation`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .batch_run import BatchRun, Encoded
from .decode_step import attention_for_decoding, seen_table
from .generation import FINISH_CHECK_EVERY, _padding_as_first_token, compiled, pad_id, prefill, sampling_scores
from .host_meta import Grid
from .slots import SlotState, SlotStep, gumbel_noise
from .vision import VisionOutputs


@dataclass
class StreamItem:
    key: Any  # the caller's handle, returned with the result
    image: Any  # processor.PreparedImage
    prompt: str
    seed: int = 0  # sampling only: the sample's noise (`slots.gumbel_noise`)


@dataclass
class _Held:
    """What the host keeps for an occupied slot until its sample ends (the decoder's inputs)."""

    item: StreamItem
    grid: Grid
    size: tuple[int, int]
    prompt_tokens: int
    prototypes: torch.Tensor  # (M, D)
    high_res: torch.Tensor  # (P, Dv)
    cos: torch.Tensor
    sin: torch.Tensor


@dataclass
class StreamStats:
    """Decode steps run and how many of their rows held a sample that was still generating."""

    steps: int = 0
    row_steps: int = 0  # steps x slots
    useful_row_steps: int = 0  # per sample: its tokens - 1 (the first comes from the prefill)
    prefills: int = 0
    samples: int = 0


class ContinuousDecoder:
    def __init__(self, pipe, slots: int, *, check_every: int = FINISH_CHECK_EVERY, compile_step: bool = False):
        self.pipe = pipe
        self.model = pipe.model
        self.settings = pipe.settings
        self.slots = max(1, int(slots))
        self.check_every = max(1, int(check_every))
        self.compile_step = compile_step and not self.settings.do_sample
        self.state: SlotState | None = None
        self.step: SlotStep | None = None
        self.run_step = None
        self.stats = StreamStats()

    @torch.inference_mode()
    def run(self, items: Iterable[StreamItem]) -> Iterator[tuple[Any, Any]]:
        """(key, `pipeline.BatchRun` of that one sample) as samples end (not in arrival order)."""
        source = iter(items)
        held: list[_Held | None] = [None] * self.slots
        more = True
        while True:
            free = [b for b, h in enumerate(held) if h is None]
            if free and more:
                new = list(itertools.islice(source, len(free)))
                more = len(new) == len(free)
                if new:
                    self._admit(held, free[: len(new)], new)
            if not any(h is not None for h in held):
                if not more:
                    return
                continue
            live = self.state.live.tolist()  # the periodic host read
            done = [b for b, h in enumerate(held) if h is not None and not live[b]]
            if done:
                yield from self._harvest(held, done)
                continue
            with attention_for_decoding(self.model):
                for _ in range(self.check_every):
                    self.run_step()
            self.stats.steps += self.check_every
            self.stats.row_steps += self.check_every * self.slots

    # -- admission -------------------------------------------------------------------------
    def _admit(self, held: list[_Held | None], slots: list[int], items: list[StreamItem]) -> None:
        self.admit_inputs(held, slots, items, self.pipe.prepare([i.image for i in items], [i.prompt for i in items]))

    def admit_inputs(self, held: list[_Held | None], slots: list[int], items: list[StreamItem], inputs) -> None:
        """Admit `items` into the free `slots`, from their batch as `PadtPipeline.prepare`
        makes it (on the device, host metadata attached). No host read, no upload: index
        tensors are filled on the device from Python ints."""
        pipe, dev = self.pipe, self.model.device
        meta, grid = inputs.meta, inputs.image_grid_thw
        enc = pipe.encode(inputs)
        ids = pipe.global_ids(inputs.input_ids, grid)
        hidden, _, cache, deltas = prefill(
            self.model, enc.vocab, enc.vision.merged, ids, inputs.attention_mask, grid, prompt=meta.prompt
        )
        last = hidden[:, -1]
        del hidden
        width, counts = ids.shape[1], meta.merged_counts
        st = self._state_for(cache, width, max(counts))
        at = _filled(slots, dev)
        for layer, (k, v) in enumerate(zip(st.cache.keys, st.cache.values)):
            k[:, :, :width].index_copy_(0, at, cache.layers[layer].keys)
            v[:, :, :width].index_copy_(0, at, cache.layers[layer].values)
        del cache
        st.keep.index_fill_(0, at, False)
        st.keep[:, :width].index_copy_(0, at, inputs.attention_mask.bool())
        st.deltas.index_copy_(0, at, deltas.view(-1).to(torch.long))
        st.write_pos.index_fill_(0, at, width)
        st.step.index_fill_(0, at, 0)
        st.tokens.index_fill_(0, at, st.pad_id)
        st.finished_at.index_fill_(0, at, st.max_steps)
        st.seeds.index_copy_(0, at, _filled([i.seed for i in items], dev))
        block = st.protos.new_zeros((len(items), st.k_cap, st.protos.shape[2]))
        ok = torch.zeros((len(items), st.k_cap), dtype=torch.bool, device=dev)
        starts = [sum(counts[:j]) for j in range(len(counts))]
        for j, (start, m) in enumerate(zip(starts, counts)):
            block[j, :m] = enc.prototypes[start : start + m]
            ok[j, :m] = True
        st.protos.index_copy_(0, at, block)
        st.vrt_ok.index_copy_(0, at, ok)
        if st.seen is not None:  # penalty rows: the prompt's real tokens (padding not counted)
            real = _padding_as_first_token(inputs.input_ids, inputs.attention_mask)
            st.seen.index_copy_(0, at, seen_table(real, st.seen.shape[1]))
        st.live.index_fill_(0, at, True)
        full = last.new_zeros((self.slots, last.shape[1])).index_copy_(0, at, last)
        fresh = torch.zeros((self.slots,), dtype=torch.bool, device=dev).index_fill_(0, at, True)
        self.step.choose(st.logits(full), full, fresh)
        vis, patch_starts = enc.vision, meta.patch_starts
        for j, (b, item) in enumerate(zip(slots, items)):
            p, s = meta.patches[j], patch_starts[j]
            held[b] = _Held(
                item, meta.grids[j], inputs.image_sizes[j], meta.prompt.row_tokens[j],
                enc.prototypes[starts[j] : starts[j] + counts[j]].clone(),
                vis.high_res[s : s + p].clone(), vis.cos[s : s + p].clone(), vis.sin[s : s + p].clone(),
            )  # fmt: skip
        self.stats.prefills += 1

    def _state_for(self, cache, prompt_len: int, k: int) -> SlotState:
        if self.state is None:
            model = self.model
            self.state = SlotState.allocate(
                slots=self.slots, prefill_cache=cache, embed=model.language_model.embed_tokens.weight,
                out_text=model.output_text_rows(), prompt_len=prompt_len, k=k, settings=self.settings,
                pad=pad_id(self.settings),
            )  # fmt: skip
            self.step = SlotStep(model, self.state, pick=self._picker())
            self.run_step = compiled(self.step) if self.compile_step else self.step
        else:
            self.state.fit(prompt_len, k)
        return self.state

    def _picker(self):
        if not self.settings.do_sample:
            return None
        settings = self.settings

        def pick(scores, seeds, steps):
            tempered = sampling_scores(scores, settings)
            return torch.argmax(tempered + gumbel_noise(seeds, steps, tempered.shape[1]), dim=-1)

        return pick

    # -- harvest ---------------------------------------------------------------------------
    def _harvest(self, held: list[_Held | None], done: list[int]) -> Iterator[tuple[Any, Any]]:
        st, steps = self.state, self.state.max_steps
        at = _filled(done, self.model.device)
        rows = torch.cat((st.finished_at.index_select(0, at)[:, None], st.tokens.index_select(0, at)[:, :steps]), 1).tolist()
        lengths = [f + 1 if f < steps else steps for f, *_ in rows]
        step_hidden = st.hidden.index_select(0, at)[:, : max(lengths)]
        records = [held[b] for b in done]
        for b in done:
            held[b] = None
        completions = [row[1 : 1 + n] for row, n in zip(rows, lengths)]
        finished = [row[0] < steps for row in rows]
        self.stats.useful_row_steps += sum(n - 1 for n in lengths)
        self.stats.samples += len(done)
        runs = finish_samples(self.pipe, records, completions, finished, step_hidden)
        for rec, run in zip(records, runs):
            yield rec.item.key, run


def _filled(values: list[int], device) -> torch.Tensor:
    """A long tensor of `values` made on `device` by fills: no blocking copy from pageable
    host memory (which would wait for the queued steps)."""
    out = torch.empty((len(values),), dtype=torch.long, device=device)
    for j, v in enumerate(values):
        out[j].fill_(v)
    return out


def finish_samples(pipe, records: list[_Held], completions: list[list[int]], finished: list[bool], step_hidden):
    """Parse, decode and post-process ended samples together; one `BatchRun` per sample
    (row 0), shaped as a batch-1 run of `PadtPipeline.run` is."""
    grids = [r.grid for r in records]
    strings, parses = pipe.parse(completions, grids, finished)
    feats = pipe.features(parses, step_hidden, None)
    vision = VisionOutputs(
        merged=None,
        high_res=torch.cat([r.high_res for r in records]),
        cos=torch.cat([r.cos for r in records]),
        sin=torch.cat([r.sin for r in records]),
        window_index=None,
    )
    enc = Encoded(vision, torch.cat([r.prototypes for r in records]), None, grids)
    dec = pipe.vl_decode(feats, enc, None)
    objects = pipe.postprocess(dec, parses, [r.size for r in records])
    return [
        BatchRun(
            inputs=None,
            encoded=Encoded(None, None, None, [r.grid]),
            completion_ids=torch.tensor([comp], dtype=torch.long),
            token_strings=[s],
            parses=[p],
            features=[f],
            decoded=dec,
            objects=[o],
            completion_rows=[comp],
            finished_rows=[fin],
            prompt_tokens=[r.prompt_tokens],
        )
        for r, comp, s, p, f, o, fin in zip(records, completions, strings, parses, feats, objects, finished)
    ]
