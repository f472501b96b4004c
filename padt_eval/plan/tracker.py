"""Device memory of a run on fake CUDA, counted from the storages its operators allocate.

`MemoryTracker` is a `TorchDispatchMode` entered *inside* a `FakeTensorMode`: every
operator passes through it, and each new device storage among the outputs is counted
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

It also records what must not happen inside a decode step on a GPU (`events`): a read of
a device value on the host (`aten._local_scalar_dense`: `.item()`, `int()`, `bool()`,
`.tolist()`), an operator whose output shape depends on values (`nonzero`, boolean
indexing), and a copy between the host and the device; each with the Python frame (file,
line, function) of the project code or transformers that asked for it.
"""

from __future__ import annotations

import itertools
import traceback
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

PARTS = ("weights", "buffers", "kv_cache", "decode_buffers", "activations")

# operators that read a device value on the host, or whose output shape depends on values
_HOST_READS = {"aten._local_scalar_dense.default", "aten.item.default"}
_VALUE_SHAPED = {"aten.nonzero.default", "aten.masked_select.default", "aten.unique2.default", "aten._unique2.default"}
_COPIES = {"aten._to_copy.default", "aten.copy_.default"}
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

# frames from these folders are torch's own machinery; the one reported is the first outside
_TORCH_DIR = str(Path(torch.__file__).parent)
_OWN_FILES = {__file__, str(Path(__file__).with_name("fake.py"))}


@dataclass
class Event:
    kind: str  # "host read" | "value-dependent shape" | "host<->device copy" | "device mismatch"
    op: str
    phase: str
    frame: str  # "file:line in function"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "op": self.op, "phase": self.phase, "frame": self.frame}


def caller_frame(frames=None) -> str:
    """The innermost Python frame outside torch and this file: where the operator was asked for."""
    for fr in reversed(frames if frames is not None else traceback.extract_stack()):
        if fr.filename in _OWN_FILES or fr.filename.startswith(_TORCH_DIR):
            continue
        return f"{fr.filename}:{fr.lineno} in {fr.name}"
    return "?"


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
    events: list[Event] = field(default_factory=list)
    count_reads: bool = False
    read_storages: dict[int, int] = field(default_factory=dict)  # storage address -> bytes, while count_reads

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

    # -- the dispatch hook ----------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = str(func)
        on_device = any(
            isinstance(t, torch.Tensor) and t.device.type == self.device_type for t in tree_flatten((args, kwargs))[0]
        )
        if name in _HOST_READS and on_device:
            self.events.append(Event("host read", name, self.phase, caller_frame()))
        elif name in _VALUE_SHAPED and on_device:
            self.events.append(Event("value-dependent shape", name, self.phase, caller_frame()))
        elif name in _COPIES:
            self._note_transfer(name, args, kwargs)
        if self.count_reads and name not in _VIEWS:
            self._note_reads(name, args, kwargs)
        out = func(*args, **kwargs)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._add(t)
        return out

    def _note_transfer(self, name: str, args, kwargs) -> None:
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        devices = {t.device.type for t in tensors}
        target = kwargs.get("device")
        if target is not None:
            devices.add(torch.device(target).type)
        if len(devices) > 1:
            self.events.append(Event("host<->device copy", name, self.phase, caller_frame()))

    def _note_reads(self, name: str, args, kwargs) -> None:
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        if name in _WRITES_FIRST and tensors:
            tensors = tensors[1:]
        for t in tensors:
            if t.device.type == self.device_type:
                st = t.untyped_storage()
                self.read_storages[st._cdata] = int(st.nbytes())
