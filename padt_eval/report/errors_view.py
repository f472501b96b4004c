"""How an error breakdown (metrics.json `errors`) is shown: a terminal line, an SVG bar
chart, and the HTML report's section with the worst samples of each category."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from padt_eval.metrics.errors import SCHEMA as QUERY_SCHEMA
from padt_eval.metrics.tide import SCHEMA as TIDE_SCHEMA

CATEGORY_LABELS = {
    "hit": "hit",
    "wrong_object": "wrong object",
    "localization": "localization",
    "near_other": "near another object",
    "background": "background",
    "no_object": "no object",
    "unparsed": "unparsed",
    # OVD (TIDE)
    "classification": "classification",
    "both": "cls + loc (both)",
    "duplicate": "duplicate",
    "missed": "missed GT",
}
# the misses whose samples the report draws (unreadable outputs have their own section)
DRAWN_QUERY_CATEGORIES = ("wrong_object", "localization", "near_other", "background", "no_object")
N_PER_CATEGORY = 4
BAR_COLOURS = {"hit": "#3a9d4a", "unparsed": "#999999", "no_object": "#bbbbbb"}
DEFAULT_BAR = "#d9822b"


def _e(x: Any) -> str:
    return html.escape(str(x))


def is_query_errors(errors: Any) -> bool:
    return isinstance(errors, dict) and errors.get("schema") == QUERY_SCHEMA


def is_tide_errors(errors: Any) -> bool:
    return isinstance(errors, dict) and errors.get("schema") == TIDE_SCHEMA


def ap_label(errors: dict[str, Any]) -> str:
    """What TIDE's AP is called: "AP50" at the default foreground IoU 0.5, else "AP@fg"."""
    fg = (errors.get("thresholds") or {}).get("foreground")
    return "AP50" if fg in (None, 0.5) else f"AP@{fg:g}" if isinstance(fg, (int, float)) else f"AP@{fg}"


def errors_line(errors: dict[str, Any]) -> str:
    """One plain line for the terminal."""
    th = errors.get("thresholds") or {}
    where = f"IoU >= {th.get('foreground')} hit, < {th.get('background')} background"
    if is_query_errors(errors):
        parts = [
            f"{CATEGORY_LABELS.get(c, c)} {'n/a' if v is None else f'{100 * v:.1f}%'}"
            for c, v in (errors.get("shares") or {}).items()
        ]
        return f"misses ({errors.get('iou')} {where}): " + ", ".join(parts)
    if is_tide_errors(errors):
        parts = [
            f"{CATEGORY_LABELS.get(t, t)} {'n/a' if v is None else f'{100 * v:+.1f}'}"
            for t, v in (errors.get("dap") or {}).items()
        ]
        ap = errors.get("ap50")
        fg_bg = f"foreground IoU {th.get('foreground')}, background {th.get('background')}"
        label = ap_label(errors)
        return f"TIDE d{label} ({fg_bg}; {label} {'n/a' if ap is None else f'{100 * ap:.1f}'}): " + ", ".join(parts)
    return "errors: (unknown breakdown)"


def bar_chart_svg(bars: list[tuple[str, float | None, str]], width: int = 560) -> str:
    """Horizontal bars (key, value in [0, 1] or None, text shown at the bar's end)."""
    row, label_w, pad = 22, 170, 130
    top = max((v for _, v, _ in bars if v is not None), default=0.0) or 1.0
    span = width - label_w - pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row * len(bars) + 6}" data-chart="errors" role="img">'
    ]
    for i, (key, v, text) in enumerate(bars):
        y = 3 + i * row
        w = 0.0 if v is None else span * v / top
        colour = BAR_COLOURS.get(key, DEFAULT_BAR)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{_e(CATEGORY_LABELS.get(key, key))}</text>'
            f'<rect data-category="{_e(key)}" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour}"></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">{_e(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bars(errors: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    if is_query_errors(errors):
        counts = errors.get("counts") or {}
        return [
            (c, v, "not computed" if v is None else f"{100 * v:.1f}% ({counts.get(c, 0)})")
            for c, v in (errors.get("shares") or {}).items()
        ]
    counts = errors.get("counts") or {}
    label = ap_label(errors)
    return [
        (t, v, "n/a" if v is None else f"{100 * v:+.2f} {label} ({counts.get(t, 0)})")
        for t, v in (errors.get("dap") or {}).items()
    ]


def errors_section(
    errors: dict[str, Any] | None, worst: dict[str, list[dict[str, Any]]], draw: Callable[[list[dict[str, Any]]], str]
) -> str:
    """The report's `errors` section; `draw(records)` renders sample cards (run_report's)."""
    if not (is_query_errors(errors) or is_tide_errors(errors)):
        return ""
    assert errors is not None
    th = errors.get("thresholds") or {}
    if is_query_errors(errors):
        title = "Why the misses happened"
        caption = (
            f"Share of all {errors.get('n_samples')} samples per category ({errors.get('iou')} IoU; hit at IoU >= "
            f"{th.get('foreground')}, background below {th.get('background')} with every annotated object). "
            "Definitions: docs/metrics.md."
        )
    else:
        title = "Detection errors (TIDE-style)"
        label = ap_label(errors)
        caption = (
            f"{label} points each error type costs (dAP: {label} with that type fixed minus {label} as is; {label} here "
            f"{100 * (errors.get('ap50') or 0):.2f}), with the number of errors. Foreground IoU {th.get('foreground')}, "
            f"background {th.get('background')}. Definitions: docs/metrics.md."
        )
    notes = "".join(f'<p class="warn">{_e(n)}</p>' for n in errors.get("notes") or [])
    groups = []
    for cat, recs in worst.items():
        if not recs:
            continue
        groups.append(
            f'<div class="errgroup" data-error-category="{_e(cat)}"><h3>{_e(CATEGORY_LABELS.get(cat, cat))}: '
            f"{len(recs)} shown</h3>{draw(recs)}</div>"
        )
    body = "".join(groups) or "<p>No miss to draw.</p>"
    return (
        f'<section id="errors"><h2>{title}</h2><p class="caption">{_e(caption)}</p>{bar_chart_svg(_bars(errors))}'
        f"{notes}{body}</section>"
    )


def error_shares_table(section: dict[str, Any]):
    """`padt-eval compare`'s table of category shares (its JSON `errors` section)."""
    from rich.table import Table

    t = Table(title=f"Miss categories ({section.get('iou')} IoU), share of shared samples", title_justify="left")
    for col in ("category", "A %", "B %", "B − A", "95% CI", "p (McNemar)"):
        t.add_column(col, justify="left" if col == "category" else "right")
    for c, e in (section.get("categories") or {}).items():
        t.add_row(
            CATEGORY_LABELS.get(c, c),
            f"{100 * e['a']:.1f}",
            f"{100 * e['b']:.1f}",
            f"{100 * e['diff']:+.1f}",
            f"[{100 * e['ci95'][0]:+.1f}, {100 * e['ci95'][1]:+.1f}]",
            f"{e['p_value']:.3g}",
        )
    for c in section.get("unavailable") or []:
        t.add_row(CATEGORY_LABELS.get(c, c), "n/a", "n/a", "", "", "not computed in one run")
    return t
