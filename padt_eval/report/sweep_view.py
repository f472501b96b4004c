"""The HTML report's score-threshold sweep (GREC, GRES: metrics.json `details.threshold_sweep`):
one line per metric against the threshold, the protocol's own threshold marked."""

from __future__ import annotations

import html
from typing import Any

from padt_eval.report.console import METRIC_LABELS

COLOURS = ("#4a7bd0", "#3a9d4a", "#d9822b", "#a23ab0", "#777777")
MARKED_THRESHOLD = 0.7  # GREC's official and default score threshold


def sweep_svg(rows: list[dict[str, Any]], width: int = 560, height: int = 220) -> str:
    keys = [k for k in rows[0] if k != "threshold"]
    pad_l, pad_r, pad_t, pad_b = 40, 150, 10, 28
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b

    def x(t: float) -> float:
        return pad_l + pw * t

    def y(v: float) -> float:
        return pad_t + ph * (1 - v)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sweep" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="metrics against the score threshold">',
        f'<line x1="{pad_l}" y1="{y(0)}" x2="{pad_l + pw}" y2="{y(0)}" stroke="#444"/>',
        f'<line x1="{pad_l}" y1="{y(0)}" x2="{pad_l}" y2="{y(1)}" stroke="#444"/>',
        f'<line x1="{x(MARKED_THRESHOLD):.1f}" y1="{y(0)}" x2="{x(MARKED_THRESHOLD):.1f}" y2="{y(1)}" stroke="#bbb" stroke-dasharray="4 3"/>',
        f'<text x="4" y="{y(1) + 8}" font-size="10">100%</text><text x="4" y="{y(0)}" font-size="10">0</text>',
    ]
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<text x="{x(t):.1f}" y="{height - 10}" font-size="10" text-anchor="middle">{t:.2f}</text>')
    for i, k in enumerate(keys):
        pts = [(r["threshold"], r[k]) for r in rows if isinstance(r.get(k), (int, float))]
        if not pts:
            continue
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
        label = html.escape(METRIC_LABELS.get(k, k))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"><title>{label}</title></polyline>'
        )
        parts.append(f'<text x="{pad_l + pw + 8}" y="{pad_t + 14 * (i + 1)}" font-size="11" fill="{colour}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def sweep_section(details: dict[str, Any] | None) -> str:
    rows = (details or {}).get("threshold_sweep")
    if not rows:
        return ""
    return (
        '<section id="threshold-sweep"><h2>Score threshold sweep</h2><p class="caption">Each metric with the objects '
        "scored below the threshold dropped (unscored objects always kept); the dashed line is GREC's 0.7.</p>"
        f"{sweep_svg(rows)}</section>"
    )
