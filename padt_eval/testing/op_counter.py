"""Count the aten ops a piece of code dispatches, and the ones that synchronise with the host.

A GPU stays busy only while the host never waits for it. The ops that make it wait are
the ones whose result the host must read: a tensor turned into a Python number
(`.item()`, `int(t)`, `bool(t)` -> `aten::_local_scalar_dense` / `is_nonzero`), and the ops
whose output *shape* depends on tensor values (`nonzero`, `masked_select`, `unique`,
boolean-mask indexing, `repeat_interleave` without `output_size`): their caller cannot go
on until the device has answered. The same ops make `torch.compile(fullgraph=True)` fail
and CUDA-graph capture impossible, so counting them on the CPU tells what would happen on
a GPU. The counter is a `TorchDispatchMode`, so it sees every op below autograd,
including those transformers runs.

Not visible on a CPU-only run: an explicit device-to-host copy (`.cpu()`, `.tolist()` of a
CUDA tensor); those are `_to_copy`/`copy_` to another device and are counted as syncs
when the source tensor is on a different device than the destination.
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# ops that read a value on the host or produce a value-dependent shape
SYNC_OPS = frozenset(
    {
        "_local_scalar_dense",
        "is_nonzero",
        "item",
        "nonzero",
        "masked_select",
        "unique",
        "_unique",
        "_unique2",
        "unique_consecutive",
        "unique_dim",
        "argwhere",
    }
)


def _is_bool_tensor(x) -> bool:
    return isinstance(x, torch.Tensor) and x.dtype == torch.bool


def _is_sync(func, name: str, args, kwargs) -> bool:
    if name in SYNC_OPS:
        return True
    if name in ("index", "index_put", "index_put_", "_index_put_impl_") and len(args) > 1:
        # boolean-mask indexing: the selected count is data dependent
        return any(_is_bool_tensor(i) for i in (args[1] or ()))
    if name == "repeat_interleave":  # tensor repeats: the output length is their sum
        return func._overloadname in ("Tensor", "self_Tensor") and kwargs.get("output_size") is None
    if name in ("_to_copy", "copy_"):
        src = args[1] if name == "copy_" else args[0]
        dst = args[0].device if name == "copy_" else kwargs.get("device")
        return isinstance(src, torch.Tensor) and dst is not None and torch.device(dst) != src.device
    return False


class OpCounter(TorchDispatchMode):
    """`with OpCounter() as c: ...` then `c.ops`, `c.syncs` (totals) and `c.sync_names`."""

    def __init__(self):
        super().__init__()
        self.ops = 0
        self.syncs = 0
        self.by_name: Counter = Counter()
        self.sync_names: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        self.ops += 1
        self.by_name[name] += 1
        if _is_sync(func, name, args, kwargs):
            self.syncs += 1
            self.sync_names[name] += 1
        return func(*args, **kwargs)
