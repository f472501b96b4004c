"""Device memory of a run on fake CUDA, counted from the storages its operators allocate.

`MemoryTracker.observe` is an observer of the fake-CUDA harness (`models.fake_device.
FakeCuda.observers`: called after every operator with its stage, arguments and outputs);
on real tensors the tracker is entered as a `TorchDispatchMode` instead (the GPU script's
real runs). Each new device storage among an operator's outputs is counted
(`nbytes`) with a `weakref.finalize` on the storage object that takes it off when the last
tensor holding it dies. So `current` is what a real run's caching allocator would hold
in live tensors at that point, and `peak` its maximum: the figure
`torch.cuda.max_memory_allocated` reports (the allocator's rounding to 512-byte blocks
aside, which is far below the margins used here).

Each storage is tagged with the phase it was allocated in (`phase`: "weights", "vision",
"prefill", "decode", ...) and may be given a *part* afterwards (`mark`): "weights",
"buffers", "kv_cache", "decode_buffers"; untagged storages are "activations". The live set
at the peak is kept (by allocation id, not address), so the split of the peak into parts
is taken from exactly the storages that were alive then.

Host syncs and device mismatches are the harness's to find (its strict stages); the
tracker only counts bytes, and, while `count_reads` is on, the storages operators read.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

PARTS = ("weights", "buffers", "kv_cache", "decode_buffers", "activations")

# operators that only make a new view of their input: they read nothing
_VIEWS = {
    "aten.view.default",
    "aten._unsafe_view.default",
    "aten.expand.default",
    "aten.slice.Tensor",
    "aten.select.int",
    "aten.unsqueeze.default",
    "aten.squeeze.dim",
    "aten.permute.default",
    "aten.transpose.int",
    "aten.t.default",
    "aten.detach.default",
    "aten.alias.default",
    "aten.as_strided.default",
    "aten.unbind.int",
    "aten.split.Tensor",
    "aten.split_with_sizes.default",
    "aten.reshape.default",
}
# in-place writes whose first argument is written, not read (one column of the KV cache)
_WRITES_FIRST = {"aten.index_copy_.default", "aten.copy_.default", "aten.index_fill_.int_Scalar", "aten.fill_.Scalar"}


@dataclass
class _Alloc:
    uid: int
    nbytes: int
    phase: str


@dataclass
class MemoryTracker(TorchDispatchMode):
    device_type: str = "cuda"
    phase: str = "setup"
    current: int = 0
    peak: int = 0
    peak_phase: str = ""
    live: dict[int, _Alloc] = field(default_factory=dict)  # storage address -> allocation
    parts: dict[int, str] = field(default_factory=dict)  # allocation id -> part
    sizes: dict[int, int] = field(default_factory=dict)  # allocation id -> bytes (also after free)
    peak_live: frozenset = frozenset()
    phase_peak: dict[str, int] = field(default_factory=dict)
    count_reads: bool = False
    read_storages: dict[int, int] = field(default_factory=dict)  # allocation id -> bytes, while count_reads

    def __post_init__(self) -> None:
        super().__init__()
        self._ids = itertools.count()

    # -- counting -------------------------------------------------------------------------
    def _add(self, tensor: torch.Tensor) -> None:
        # a fake tensor's storage is on "meta": the tensor says which device it stands for
        if tensor.device.type != self.device_type:
            return
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key in self.live:
            return
        alloc = _Alloc(next(self._ids), int(storage.nbytes()), self.phase)
        self.live[key] = alloc
        self.sizes[alloc.uid] = alloc.nbytes
        self.current += alloc.nbytes
        weakref.finalize(storage, self._free, key, alloc.uid)
        self.phase_peak[self.phase] = max(self.phase_peak.get(self.phase, 0), self.current)
        if self.current > self.peak:
            self.peak, self.peak_phase = self.current, self.phase
            self.peak_live = frozenset(a.uid for a in self.live.values())

    def _free(self, key: int, uid: int) -> None:
        alloc = self.live.get(key)
        if alloc is not None and alloc.uid == uid:
            del self.live[key]
            self.current -= alloc.nbytes

    def track(self, *tensors: torch.Tensor) -> None:
        """Count tensors made outside the mode (e.g. converted from real ones)."""
        for t in tensors:
            self._add(t)

    def mark(self, part: str, *tensors: torch.Tensor | None) -> None:
        """Put these tensors' storages in `part` (weights, kv_cache, ...)."""
        assert part in PARTS, part
        for t in tensors:
            if t is not None and t.device.type == self.device_type:
                self._add(t)
                self.parts[self.live[t.untyped_storage()._cdata].uid] = part

    def split(self, uids) -> dict[str, int]:
        out = dict.fromkeys(PARTS, 0)
        for uid in uids:
            out[self.parts.get(uid, "activations")] += self.sizes[uid]
        return out

    def peak_split(self) -> dict[str, int]:
        return self.split(self.peak_live)

    def live_split(self) -> dict[str, int]:
        return self.split(a.uid for a in self.live.values())

    def reset_peak(self) -> None:
        self.peak, self.peak_phase = self.current, self.phase
        self.peak_live = frozenset(a.uid for a in self.live.values())

    # -- the hooks -----------------------------------------------------------------------
    def observe(self, stage, func, args, kwargs, out) -> None:
        """A `FakeCuda` observer: count the op's new storages (and its reads when asked)."""
        if stage is not None:
            self.phase = stage
        if self.count_reads and str(func) not in _VIEWS:
            self._note_reads(str(func), args, kwargs)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._add(t)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.observe(None, func, args, kwargs, out)
        return out

    def _note_reads(self, name: str, args, kwargs) -> None:
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        if name in _WRITES_FIRST and tensors:
            tensors = tensors[1:]
        for t in tensors:
            if t.device.type == self.device_type:
                self._add(t)  # made outside the tracker's sight (a parameter of a model built earlier)
                alloc = self.live[t.untyped_storage()._cdata]
                self.read_storages[alloc.uid] = alloc.nbytes  # by id: the storage may be freed before the split

    def read_split(self) -> dict[str, int]:
        """The bytes read while `count_reads` was on, by part."""
        return self.split(self.read_storages)
