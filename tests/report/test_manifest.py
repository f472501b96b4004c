"""The manifest records what changes a run's low bits: here, torch's CPU thread count."""

from __future__ import annotations

from padt_eval.results.environment import accelerator_info


def test_cpu_thread_count_is_recorded():
    import torch

    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            assert accelerator_info()["cpu_threads"] == n
    finally:
        torch.set_num_threads(before)
