"""Do a model's weights look like a fresh initialisation? Statistics taken when it loads.

A checkpoint that was never trained (a wrong path into a random-init fallback, a missing
shard filled by `from_pretrained`, a test model) runs and scores like any other. What
gives it away is its linear layers: an initialiser draws every entry independently from
one distribution, so a matrix has mean ≈ 0, a standard deviation equal to the
initialiser's, the kurtosis of that distribution, and rows that all have the same spread.
Training leaves none of that intact: rows grow different norms and the entries heavy tails.

Each 2-D weight of an `nn.Linear` (at least `MIN_ELEMENTS`) is read on up to `ROWS` rows
spread over the matrix (a few hundred thousand numbers at most, so a 3B model takes well
under a second) and compared with three initialisers:

* `normal(0, initializer_range)`: Hugging Face's `_init_weights`, with the config's
  `initializer_range` (PaDT and Qwen2.5-VL: 0.02);
* `normal(0, 1/sqrt(fan_in))`: the variance-scaled normal (the demo's tiny PaDT);
* `uniform(±1/sqrt(fan_in))`: PyTorch's own `nn.Linear` default (kaiming-uniform, a=√5).

A matrix matches one when its std is within `STD_TOL` of the initialiser's, |mean| <
`MEAN_TOL`·std, its kurtosis within `KURT_TOL` of the distribution's (3 normal, 1.8
uniform), and the spread of its row stds is what independent draws give (coefficient of
variation under 3/√(2·fan_in) + 0.02). The alarm (`metrics/alarms.untrained_weights`)
fires when most matrices match.
"""

from __future__ import annotations

import math
from typing import Any

ROWS = 64
MIN_ELEMENTS = 1024
STD_TOL = 0.05
MEAN_TOL = 0.05
KURT_TOL = 0.5

_NORMAL_KURT, _UNIFORM_KURT = 3.0, 1.8


def _candidates(fan_in: int, initializer_range: float | None) -> list[tuple[str, float, float]]:
    out = []
    if initializer_range:
        out.append(("normal(0, initializer_range)", float(initializer_range), _NORMAL_KURT))
    out.append(("normal(0, 1/sqrt(fan_in))", 1 / math.sqrt(fan_in), _NORMAL_KURT))
    out.append(("uniform(±1/sqrt(fan_in))", 1 / math.sqrt(3 * fan_in), _UNIFORM_KURT))
    return out


def matrix_match(w, initializer_range: float | None) -> str | None:
    """The initialiser a 2-D weight (out, in) looks drawn from, or None."""
    import torch

    rows = w.shape[0]
    idx = torch.linspace(0, rows - 1, min(rows, ROWS), device=w.device).round().long().unique()
    x = w.detach()[idx].float()
    fan_in = int(w.shape[1])
    mean = float(x.mean())
    centred = x - mean
    var = float((centred**2).mean())
    if var <= 0:
        return None
    std = math.sqrt(var)
    kurt = float((centred**4).mean()) / var**2
    row_std = centred.std(dim=1)
    cv = float(row_std.std() / row_std.mean()) if len(row_std) > 1 else 0.0
    if abs(mean) > MEAN_TOL * std or cv > 3 / math.sqrt(2 * fan_in) + 0.02:
        return None
    for name, want_std, want_kurt in _candidates(fan_in, initializer_range):
        if abs(std / want_std - 1) <= STD_TOL and abs(kurt - want_kurt) <= KURT_TOL:
            return name
    return None


def weight_stats(module, initializer_range: float | None) -> dict[str, Any]:
    """How many linear-layer matrices of `module` match an initialiser (see the module doc)."""
    import torch

    matched: dict[str, int] = {name: 0 for name, _, _ in _candidates(1, initializer_range)}
    n = 0
    with torch.no_grad():
        for sub in module.modules():
            w = getattr(sub, "weight", None)
            if not isinstance(sub, torch.nn.Linear) or w is None or w.dim() != 2 or w.numel() < MIN_ELEMENTS:
                continue
            if w.device.type == "meta":
                continue
            n += 1
            name = matrix_match(w, initializer_range)
            if name is not None:
                matched[name] += 1
    return {
        "method": f"models/weight_stats.py: up to {ROWS} rows of each nn.Linear weight with >= {MIN_ELEMENTS} entries",
        "initializer_range": initializer_range,
        "n_matrices": n,
        "n_like_init": sum(matched.values()),
        "matched": matched,
    }


def initializer_range_of(config: Any) -> float | None:
    """`initializer_range` from a transformers config (or its text config), or a dict."""
    for c in (config, getattr(config, "text_config", None)):
        if c is None:
            continue
        v = c.get("initializer_range") if isinstance(c, dict) else getattr(c, "initializer_range", None)
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
    return None
