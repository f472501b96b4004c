"""Run model code on fake CUDA: real shapes, dtypes and devices, no memory, no GPU.

Under `torch._subclasses.fake_tensor.FakeTensorMode` a tensor on "cuda" has a shape, a
dtype and a device but no storage, and every operator runs its meta logic (shape and
dtype inference, device checks). So a released-size model builds in seconds on a CPU
machine (a 3B model's weights are never allocated), and its real code path runs:

* a tensor left on the CPU meeting a CUDA one raises `FakeTensorDeviceMismatchError`;
* a value read back to the host (`.item()`, `int(t)`, `bool(t)`, `.tolist()`) raises
  `DataDependentOutputException`, and a value-dependent output shape (`nonzero`, boolean
  indexing) `DynamicOutputShapeException`. On a GPU each of those is a host sync.

`FakeCuda` is that mode plus bookkeeping: the code under test runs in named *stages*
(`with mode.stage("decode step 1"): ...`); every op is counted per stage, every host
sync and device mismatch is recorded with the operator and the Python frame that caused
it, and in a strict stage (the default) the first one raises `FakeRunError` naming both.
Observers (`mode.observers.append(fn)`, called as `fn(stage, func, args, kwargs, out)`
after each op) see every op's fake outputs: the memory plan tracks storages from there.
Stack nothing on top of the mode: a second dispatch mode above it changes how factory
calls such as `torch.tensor(..., device="cuda")` are dispatched (they then try to reach a
real GPU); subclass `FakeCuda` or add an observer instead.

Typical use (what the per-family runners in `padt/fake_run.py` do):

    with fake_cuda(torch.bfloat16) as mode:      # modules built here land on fake CUDA
        model = build(config)
        with mode.stage("vision"):
            ...
    mode.report()                                # {stage: StageReport}
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch._subclasses.fake_tensor import (
    DataDependentOutputException,
    DynamicOutputShapeException,
    FakeTensor,
    FakeTensorDeviceMismatchError,
    FakeTensorMode,
)
from torch.utils import _pytree as pytree
from torch.utils._mode_utils import no_dispatch

# ops that read a value on the host, or whose output shape depends on values
_VALUE_OPS = frozenset(
    {"_local_scalar_dense", "is_nonzero", "item", "nonzero", "masked_select", "argwhere", "unique_consecutive"}
    | {"unique", "_unique", "_unique2", "unique_dim"}
)


def sync_kind(func, args, kwargs, *, device_only: bool = True) -> str | None:
    """Why `func(*args, **kwargs)` makes the host wait for a GPU's answer, or None: a value
    read, a value-dependent output shape, a copy from the device to the host.

    `device_only`: value reads count on fake (device) tensors only, not on the host's own
    real CPU tensors; False counts them on any tensor (a real CPU run standing in for a GPU
    one). Copies the other way are `upload_kind`'s."""
    name = func.overloadpacket.__name__
    if name in _VALUE_OPS:
        return name if not device_only or any(isinstance(a, FakeTensor) for a in args) else None
    if name in ("index", "index_put", "index_put_", "_index_put_impl_") and len(args) > 1:
        if any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in (args[1] or ())):
            return f"{name} with a boolean mask"
    if name == "repeat_interleave" and func._overloadname in ("Tensor", "self_Tensor") and kwargs.get("output_size") is None:
        return "repeat_interleave without output_size"
    copy = _copy_devices(name, args, kwargs)
    if copy is not None and copy[0] == "cuda" and copy[1] == "cpu":
        return "copy from cuda to cpu"
    return None


def upload_kind(func, args, kwargs) -> str | None:
    """A blocking copy from the host to the device, or None. PyTorch follows a copy from
    pageable memory without `non_blocking` with a stream synchronisation, so the host waits
    for the work already queued: free before the batch's first kernel, a stall after it."""
    copy = _copy_devices(func.overloadpacket.__name__, args, kwargs)
    if copy is not None and copy[0] == "cpu" and copy[1] == "cuda" and not copy[2]:
        src = args[1] if func.overloadpacket.__name__ == "copy_" else args[0]
        return "blocking copy from cpu to cuda" if src.numel() else None  # an empty copy moves nothing
    return None


def _copy_devices(name: str, args, kwargs) -> tuple[str, str, bool] | None:
    """(source device type, destination device type, non_blocking) of a copy op, else None."""
    if name == "copy_" and len(args) > 1 and isinstance(args[1], torch.Tensor):
        blocking = args[2] if len(args) > 2 else kwargs.get("non_blocking", False)
        return args[1].device.type, args[0].device.type, bool(blocking)
    if name in ("_to_copy", "to") and args and isinstance(args[0], torch.Tensor):
        dst = kwargs.get("device")
        if dst is None and len(args) > 1 and isinstance(args[1], (torch.device, str)):
            dst = args[1]
        if dst is not None:
            return args[0].device.type, torch.device(dst).type, bool(kwargs.get("non_blocking", False))
    return None


_HERE = os.path.abspath(__file__)
_SKIP = (os.sep + "torch" + os.sep, os.sep + "contextlib.py", os.sep + "functools.py", _HERE)


def calling_frame() -> str:
    """The innermost Python frame outside torch (and this module): the line that asked for
    the op. When that line is in a library, the innermost padt_eval frame is added."""
    frames = [
        f
        for f in traceback.extract_stack()[:-1]
        if not any(s in f.filename for s in _SKIP) and f.name != "__torch_dispatch__"  # a mode's own frame
    ]
    if not frames:
        return "<unknown>"
    inner = frames[-1]
    text = f"{_short(inner.filename)}:{inner.lineno} in {inner.name}"
    if "padt_eval" not in inner.filename:
        ours = [f for f in frames if "padt_eval" in f.filename and f is not inner]
        if ours:
            text += f" (called from {_short(ours[-1].filename)}:{ours[-1].lineno} in {ours[-1].name})"
    return text


def _short(path: str) -> str:
    for marker in ("site-packages" + os.sep, os.sep + "padt_eval" + os.sep):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail if marker.startswith("site") else "padt_eval" + os.sep + tail
    return path


@dataclass
class Event:
    kind: str  # "host sync" | "device mismatch"
    op: str  # the aten op, e.g. "aten._local_scalar_dense.default"
    why: str  # sync_kind's reason, or the mismatch message
    frame: str  # calling_frame()
    stage: str

    def __str__(self) -> str:
        return f"{self.kind} in {self.stage}: {self.op} ({self.why}) at {self.frame}"


class FakeRunError(RuntimeError):
    """A host sync or device mismatch inside a strict stage, naming the op and the frame."""

    def __init__(self, event: Event):
        super().__init__(str(event))
        self.event = event


@dataclass
class StageReport:
    ops: int = 0
    syncs: list[Event] = field(default_factory=list)
    mismatches: list[Event] = field(default_factory=list)
    uploads: list[Event] = field(default_factory=list)  # blocking host-to-device copies (`upload_kind`)


Observer = Callable[[str, object, tuple, dict, object], None]


class FakeCuda(FakeTensorMode):
    """`FakeTensorMode` that counts ops per stage and records host syncs and device
    mismatches (see the module docstring). Real CPU tensors may be passed in (they are
    converted on first use), so host metadata built outside can be moved in with `.to`."""

    def __init__(self) -> None:
        super().__init__(allow_non_fake_inputs=True)
        self.stages: dict[str, StageReport] = {}
        self.observers: list[Observer] = []
        self._stage: str | None = None
        self._strict = False
        self._depth = 0

    @contextmanager
    def stage(self, name: str, *, strict: bool = True) -> Iterator[StageReport]:
        """Run a block as stage `name`. Strict: the first host sync or device mismatch raises
        `FakeRunError`. Not strict: syncs are recorded and the block goes on as far as fake
        tensors allow: a one-element boolean read is answered True (in model code these are
        the checks transformers asserts, e.g. image tokens == image features), any other
        value read still raises, as `FakeRunError` naming it."""
        before = self._stage, self._strict
        self._stage, self._strict = name, strict
        report = self.stages.setdefault(name, StageReport())
        try:
            yield report
        except (DataDependentOutputException, DynamicOutputShapeException, FakeTensorDeviceMismatchError) as exc:
            events = report.syncs + report.mismatches
            raise FakeRunError(events[-1] if events else Event("host sync", "?", str(exc), calling_frame(), name)) from exc
        finally:
            self._stage, self._strict = before

    def may_turn_const(self, t) -> bool:
        # No constant tracking: a fake tensor never carries a value. Otherwise one-element
        # tensors (torch.tensor(3)) keep theirs, `.item()` on them passes unnoticed, and ops
        # on them are run for real, which reaches for a GPU under inference mode.
        return False

    def _fake(self, t: torch.Tensor) -> torch.Tensor:
        return t if isinstance(t, FakeTensor) else self.from_tensor(t)

    def report(self) -> dict[str, StageReport]:
        return dict(self.stages)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _host_only(args, kwargs):  # the host's own work on real CPU tensors stays real
            with no_dispatch():
                return func(*args, **kwargs)
        # a real CPU tensor bound for the device: fake it first (the mode's own conversion
        # comes after a constant-propagation shortcut that would run the copy for real)
        args, kwargs = pytree.tree_map_only(torch.Tensor, self._fake, (args, kwargs))
        stage = self._stage
        # ops that decompose come back through here; count the outermost only (one `bool(t)`
        # is one sync, not is_nonzero + item + _local_scalar_dense)
        rep = self.stages.get(stage) if stage is not None and self._depth == 0 else None
        if rep is not None:
            rep.ops += 1
            upload = upload_kind(func, args, kwargs)
            if upload is not None:
                rep.uploads.append(Event("upload", str(func), upload, calling_frame(), stage))
            why = sync_kind(func, args, kwargs)
            if why is not None:
                event = Event("host sync", str(func), why, calling_frame(), stage)
                rep.syncs.append(event)
                if self._strict:
                    raise FakeRunError(event)
                if _is_bool_read(func, args):
                    return True  # see `stage`: a boolean read in a lenient stage is answered True
        self._depth += 1
        try:
            out = super().__torch_dispatch__(func, types, args, kwargs)
        except FakeTensorDeviceMismatchError as exc:
            if rep is not None:
                event = Event("device mismatch", str(func), str(exc).splitlines()[0], calling_frame(), stage)
                rep.mismatches.append(event)
                raise FakeRunError(event) from exc
            raise
        finally:
            self._depth -= 1
        for observe in self.observers:
            observe(stage, func, args, kwargs, out)
        return out


def _is_bool_read(func, args) -> bool:
    name = func.overloadpacket.__name__
    return name in ("_local_scalar_dense", "item", "is_nonzero") and args[0].dtype == torch.bool and args[0].numel() == 1


def _host_only(args, kwargs) -> bool:
    """No fake tensor in, and nothing bound for another device than the CPU: host code (index
    tables built from Python ints, as `padt.host_meta` does) runs for real, as it would on
    a GPU machine, and its values stay readable."""
    if kwargs.get("device") is not None and torch.device(kwargs["device"]).type != "cpu":
        return False
    for a in pytree.tree_leaves((args, kwargs)):
        if isinstance(a, torch.Tensor) and (isinstance(a, FakeTensor) or a.device.type != "cpu"):
            return False
    return True


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def torch_dtype(dtype) -> torch.dtype:
    return dtype if isinstance(dtype, torch.dtype) else _DTYPES[str(dtype).replace("torch.", "")]


@contextmanager
def fake_cuda(dtype="bfloat16", mode: FakeCuda | None = None) -> Iterator[FakeCuda]:
    """Enter `mode` (a new `FakeCuda` by default) with "cuda" as the default device and
    `dtype` as the default dtype, so modules constructed inside hold fake CUDA parameters
    in the run's dtype (buffers that transformers builds in float32 stay float32)."""
    mode = mode or FakeCuda()
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype(dtype))
    try:
        with mode, torch.device("cuda"):
            yield mode
    finally:
        torch.set_default_dtype(before)


def parameter_bytes(module: torch.nn.Module) -> int:
    """Bytes of the module's parameters (fake or real): numel x element size, shared ones once."""
    seen, total = set(), 0
    for p in module.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    return total


def op_names(events: list[Event]) -> Counter:
    return Counter(e.op for e in events)
