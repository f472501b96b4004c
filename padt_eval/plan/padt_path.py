"""PaDT's path for the plan: `models.padt.fake_run.run_fake_padt` with a memory tracker.

The harness runs the adapter's real stages on fake CUDA (`vision`, `prefill`: prompt, text
model, static KV cache and first token, `decode step 1..k`, `decoder`, `postprocess`),
each strict: a host sync or device mismatch raises `FakeRunError` naming the op and the
frame. The plan adds a `MemoryTracker` as the mode's observer, sends attention to the
kernels a GPU runs (`fake.FusedAttention`), and after the run names the parts: the
parameters, the static cache's buffers, the decode state's buffers.

Every buffer of the decode phase is allocated at its final size when decoding starts (the
static cache holds `bucketed(prompt + max_new_tokens, 128)` columns; the token and state
buffers `max_new_tokens` rows) and a step's shapes never change, so a few steps measure the
whole decode phase: nothing is extrapolated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .shapes import BatchShape
from .tracker import MemoryTracker

# the harness's synthetic chat prompt adds these tokens around the text and the image
# (im_start, role, newline; vision start/end; im_end, newline, im_start, role, newline)
TEMPLATE_TOKENS = 10


@dataclass
class Stage:
    name: str
    status: str = "ran"  # "ran" | "shape-only" | "failed"
    error: str | None = None


@dataclass
class PathRun:
    stages: list[Stage] = field(default_factory=list)
    kv_positions: int = 0  # cache columns per row (what the KV cache is sized for)
    kv_bytes: int = 0
    parameters: int = 0
    grid: tuple[int, int, int] | None = None
    prompt_tokens: int = 0

    def stage(self, name: str) -> Stage:
        s = Stage(name)
        self.stages.append(s)
        return s


def describe_error(exc: BaseException) -> str:
    """The harness's event (`op (why) at frame`) for a `FakeRunError`, else the exception."""
    event = getattr(exc, "event", None)
    if event is not None:
        return f"{event.kind}: {event.op} ({event.why}) at {event.frame}"
    msg = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {msg}"


def run_padt(config: dict, shape: BatchShape, tracker: MemoryTracker, *, dtype: str, steps: int = 2) -> PathRun:
    from padt_eval.models.fake_device import FakeCuda, FakeRunError
    from padt_eval.models.padt.fake_run import run_fake_padt

    from .fake import FusedAttention

    mode = FakeCuda()
    last_step = f"decode step {steps}"

    def observe(stage, func, args, kwargs, out):
        tracker.count_reads = stage == last_step  # the last step's reads: the bandwidth floor
        tracker.observe(stage if stage is not None else "setup", func, args, kwargs, out)

    mode.observers.append(observe)
    out = PathRun()
    run, failed, error = None, None, None
    try:
        with FusedAttention():
            run = run_fake_padt(
                config,
                batch=shape.batch,
                image_size=shape.image_wh,
                max_new_tokens=shape.max_new_tokens,
                decode_steps=steps,
                prompt_tokens=max(1, shape.text_tokens - TEMPLATE_TOKENS),
                objects=max(1, shape.objects),
                vrts_per_object=shape.vrts,
                dtype=dtype,
                mode=mode,
            )
    except FakeRunError as exc:
        failed, error = exc.event.stage, describe_error(exc)
    except Exception as exc:  # a stage that cannot run on fake tensors at all: the finding
        failed, error = (list(mode.stages) or ["setup"])[-1], describe_error(exc)
    finally:
        tracker.count_reads = False
    for name, rep in mode.stages.items():
        st = out.stage(name)
        if name == failed:
            st.status, st.error = "failed", error
        elif rep.syncs or rep.mismatches:
            st.status, st.error = "failed", "; ".join(str(e) for e in rep.syncs + rep.mismatches)
    if run is None:
        return out
    tracker.mark("weights", *run.model.parameters())
    tracker.mark("buffers", *run.model.buffers())
    state = run.decoding.step.state
    tracker.mark("kv_cache", *state.cache.keys, *state.cache.values)
    buffers = (state.keep, state.tokens, state.hidden, state.logits, state.seen, state.unfinished, state.finished_at)
    tracker.mark("decode_buffers", *buffers, state.step, state.write_pos, state.eos, state.vocab.prototypes, state.vocab.mask)
    out.kv_positions, out.kv_bytes = state.cache.max_len, state.cache.nbytes()
    out.grid, out.prompt_tokens = run.grids[0], run.prompt_length
    out.parameters = sum(p.numel() for p in run.model.parameters())
    return out
