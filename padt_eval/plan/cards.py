"""The GPUs `padt-eval plan --gpu` knows: memory as the driver reports it, and peak memory bandwidth.

Memory is the total `nvidia-smi` / `torch.cuda.mem_get_info` reports for the card (MiB),
not the marketing figure; bandwidth is the vendor's peak (GB/s, 1e9 bytes), the figure the
bandwidth floor of a decode step divides by. A step cannot run faster than the bytes it
must read from device memory over this bandwidth; real steps are slower (kernel launches,
attention over a masked cache, the sampling ops), so the floor is a lower bound, not a
prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

from padt_eval.core.errors import UsageError

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Card:
    name: str
    memory_bytes: int
    bandwidth_gbs: float  # GB/s, 1e9 bytes per second
    note: str = ""

    def floor_ms(self, bytes_per_step: int) -> float:
        """Milliseconds to read `bytes_per_step` once at peak bandwidth."""
        return bytes_per_step / (self.bandwidth_gbs * 1e9) * 1e3


CARDS = {
    c.name: c
    for c in (
        Card("H100-80GB", 81559 * MIB, 3350.0, "H100 SXM5, HBM3"),
        Card("H200", 143771 * MIB, 4800.0, "H200 SXM, HBM3e"),
        Card("A100-40GB", 40960 * MIB, 1555.0, "A100 SXM4 40GB, HBM2"),
        Card("A100-80GB", 81920 * MIB, 2039.0, "A100 SXM4 80GB, HBM2e"),
        Card("L40S", 46068 * MIB, 864.0, "L40S, GDDR6"),
        Card("RTX 4090", 24564 * MIB, 1008.0, "GeForce RTX 4090, GDDR6X"),
    )
}


def _key(name: str) -> str:
    return name.lower().replace(" ", "").replace("-", "").replace("_", "")


def card(name: str | None = None, memory_gb: float | None = None) -> Card:
    """A named card, or a card of `memory_gb` GiB (bandwidth unknown: no floor)."""
    if memory_gb is not None:
        if memory_gb <= 0:
            raise UsageError(f"--gpu-memory must be a positive number of GiB, got {memory_gb}")
        base = CARDS.get(name) if name else None
        return Card(
            f"{memory_gb:g} GiB" if base is None else base.name, int(memory_gb * GIB), base.bandwidth_gbs if base else 0.0
        )
    name = name or "H100-80GB"
    for c in CARDS.values():
        if _key(c.name) == _key(name):
            return c
    raise UsageError(f"--gpu {name!r}: unknown card; one of {', '.join(CARDS)} (or give --gpu-memory GB)")


#: What a run leaves unused on a card: the CUDA context and cuDNN/cuBLAS workspaces (about 1
#: GiB, not in the allocator's counts) and the caching allocator's fragmentation (blocks
#: rounded up and split; 10 % of the rest is what long generate runs lose in practice).
CONTEXT_BYTES = 1 * GIB
FRAGMENTATION = 0.10


def usable_bytes(total: int, *, context: bool = True) -> int:
    """The allocator bytes a run may plan to use on a card of `total` bytes (`context`: the
    CUDA context is still to come; False for `mem_get_info`'s free bytes, which exclude it)."""
    rest = total - (CONTEXT_BYTES if context else 0)
    return max(0, int(rest * (1 - FRAGMENTATION)))
