"""Weights that look untrained (models/weight_stats.py): fresh initialisations are
recognised, matrices with the marks of training (heavy tails, rows of different norms,
a spread unlike the initialiser's) are not."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from padt_eval.models.weight_stats import initializer_range_of, matrix_match, weight_stats  # noqa: E402


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_the_three_initialisers_are_recognised():
    assert matrix_match(torch.randn(512, 256, generator=_gen(0)) * 0.02, 0.02) == "normal(0, initializer_range)"
    assert matrix_match(torch.randn(512, 256, generator=_gen(1)) / 256**0.5, 0.02) == "normal(0, 1/sqrt(fan_in))"
    torch.manual_seed(2)
    assert matrix_match(torch.nn.Linear(256, 512).weight, 0.02) == "uniform(±1/sqrt(fan_in))"


def test_trained_looking_matrices_are_not():
    g = _gen(3)
    heavy = torch.distributions.StudentT(4.0).sample((512, 256)) * 0.02 / 2**0.5  # std 0.02, kurtosis far above 3
    assert matrix_match(heavy, 0.02) is None
    rows = torch.randn(512, 256, generator=g) * 0.02 * (0.6 + 0.8 * torch.rand(512, 1, generator=g))  # rows of unequal norm
    assert matrix_match(rows, 0.02) is None
    wider = torch.randn(512, 256, generator=g) * 0.03  # normal, but not the initialiser's std
    assert matrix_match(wider, 0.02) is None
    shifted = torch.randn(512, 256, generator=g) * 0.02 + 0.01
    assert matrix_match(shifted, 0.02) is None


def test_weight_stats_counts_linear_layers_only():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Embedding(100, 64), torch.nn.Linear(64, 64), torch.nn.Linear(64, 32), torch.nn.Linear(4, 4)
    )
    with torch.no_grad():
        net[2].weight.mul_(3.0)  # no longer the default initialiser's spread
    stats = weight_stats(net, 0.02)
    assert stats["n_matrices"] == 2  # the 4x4 layer is below MIN_ELEMENTS; the embedding is no Linear
    assert stats["n_like_init"] == 1 and stats["matched"]["uniform(±1/sqrt(fan_in))"] == 1


def test_initializer_range_is_read_from_a_config_or_its_text_config():
    class Config:
        initializer_range = None
        text_config = type("T", (), {"initializer_range": 0.02})()

    assert initializer_range_of(Config()) == 0.02
    assert initializer_range_of({"initializer_range": 0.01}) == 0.01
    assert initializer_range_of({}) is None


def test_the_tiny_random_padt_looks_untrained(tiny_checkpoint):
    from padt_eval.models.loading import load_model

    adapter = load_model(str(tiny_checkpoint), "padt", device="cpu")
    try:
        stats = adapter.describe()["weight_stats"]
    finally:
        adapter.close()
    assert stats["n_matrices"] >= 10 and stats["n_like_init"] / stats["n_matrices"] > 0.8
    assert stats["matched"]["normal(0, 1/sqrt(fan_in))"] == stats["n_like_init"]  # demo/tiny_padt.py's initialiser


@pytest.mark.slow
def test_a_run_of_the_tiny_random_padt_raises_the_untrained_alarm(synth_root, tiny_checkpoint, tmp_path):
    """The whole path: weights measured at load, recorded in the run's model description,
    the alarm in metrics.json `alarms` and `warnings`."""
    import json

    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    result = api.run_model(
        Task.REC,
        "refcoco_val",
        ModelOptions(str(tiny_checkpoint), "padt", {"max_new_tokens": 4}),
        data=DataOptions(data_root=synth_root),
        run=RunOptions(device="cpu", loader_workers=0),
        output=OutputOptions(tmp_path / "run", report=False),
    )
    doc = json.loads((result.out_dir / "metrics.json").read_text())
    alarm = next(a for a in doc["alarms"] if a["name"] == "untrained_weights")
    assert alarm["message"] in doc["warnings"]
    assert alarm["evidence"]["n_like_init"] == doc["model"]["weight_stats"]["n_like_init"] > 0
