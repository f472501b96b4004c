"""`-b auto`: the batch each rank runs, from the memory plan and the rank's free GPU memory.

On CUDA: `plan.planner.plan(..., batch="auto", free_bytes=free)`, where `free` is
`torch.cuda.mem_get_info` of the rank's device after its model is loaded would be too
late (the plan counts the weights itself), so it is read before loading; the plan keeps
`cards.usable_bytes(free, context=False)` of it (10 % left for the allocator's
fragmentation). On the CPU there is no device memory to plan: the default batch runs,
and one line says so.
"""

from __future__ import annotations

import sys
from typing import Any

from padt_eval.options import DEFAULT_BATCH_SIZE

CPU_FALLBACK = f"-b auto: no CUDA device for this rank; running the default batch {DEFAULT_BATCH_SIZE}"


def resolve_batch_size(requested: int | str, *, device: str, model: str, family: str, task: str, options: dict[str, Any]) -> int:
    """The batch to run for `requested` (a number is returned as is)."""
    if requested != "auto":
        return int(requested)
    if not device.startswith("cuda"):
        print(CPU_FALLBACK, file=sys.stderr, flush=True)
        return DEFAULT_BATCH_SIZE
    import torch

    from padt_eval.core.types import Task
    from padt_eval.models.hf.adapter import DEFAULT_MAX_NEW_TOKENS
    from padt_eval.plan.cards import card
    from padt_eval.plan.planner import plan

    index = torch.device(device).index or 0
    free, total = torch.cuda.mem_get_info(index)
    t = Task(task)
    tokens = int(options.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS.get(t, 1024))
    result = plan(
        model,
        task=t,
        batch="auto",
        max_new_tokens=tokens,
        card=card(None, total / 2**30),
        family=family,
        dtype=options.get("dtype"),
        free_bytes=free,
    )
    batch = max(1, result.largest_batch)
    print(
        f"-b auto: batch {batch} (plan peak {result.measured.peak_bytes / 2**30:.1f} GiB of {free / 2**30:.1f} GiB free)",
        file=sys.stderr,
        flush=True,
    )
    return batch
