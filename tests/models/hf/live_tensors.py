"""Peak bytes of live tensor storage during a block (tests only).

A `TorchDispatchMode` sees every tensor an aten op returns; each new storage is counted
from its first appearance until the last tensor seen on it is garbage collected. This is
the number the CPU allocator would report for tensors (without its caching), exact and
free of the noise of process RSS."""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveTensorBytes(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._holders: dict[int, int] = {}  # storage pointer -> tracked tensors on it
        self._sizes: dict[int, int] = {}

    def _release(self, ptr: int) -> None:
        self._holders[ptr] -= 1
        if self._holders[ptr] == 0:
            del self._holders[ptr]
            self.live -= self._sizes.pop(ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor) or t.device.type != "cpu":
                continue
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr == 0:
                continue
            if ptr not in self._holders:
                self._holders[ptr] = 0
                self._sizes[ptr] = storage.nbytes()
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
            self._holders[ptr] += 1
            weakref.finalize(t, self._release, ptr)
        return out
