"""How each family writes a pixel box, written independently of the parsers (test helpers).

Each writer takes a box in original-image pixels and the frame, and returns (text, the
largest error its quantisation may cause, in pixels along x and y).
"""

from __future__ import annotations

import json

from padt_eval.models.coords import Frame


def _pm(v: float, size: int) -> int:
    return min(1000, max(0, round(v / size * 1000)))


def qwen2_5_vl(b, f: Frame, label="obj"):
    sx, sy = f.input_width / f.width, f.input_height / f.height
    vals = [round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)]
    return "```json\n" + json.dumps([{"bbox_2d": vals, "label": label}]) + "\n```", (0.51 / sx, 0.51 / sy)


def vlm_r1(b, f, label="obj"):
    text, tol = qwen2_5_vl(b, f, label)
    return f"<think>It is on the left.</think><answer>{text}</answer>", tol


def qwen3_vl(b, f, label="obj"):
    vals = [_pm(b[0], f.width), _pm(b[1], f.height), _pm(b[2], f.width), _pm(b[3], f.height)]
    return json.dumps([{"bbox_2d": vals, "label": label}]), (0.51 * f.width / 1000, 0.51 * f.height / 1000)


def qwen2_vl(b, f, label="obj"):
    x1, y1, x2, y2 = _pm(b[0], f.width), _pm(b[1], f.height), _pm(b[2], f.width), _pm(b[3], f.height)
    text = f"<|object_ref_start|>{label}<|object_ref_end|><|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"
    return text, (0.51 * f.width / 1000, 0.51 * f.height / 1000)


def internvl(b, f, label="obj"):
    vals = [_pm(b[0], f.width), _pm(b[1], f.height), _pm(b[2], f.width), _pm(b[3], f.height)]
    return f"<ref>{label}</ref><box>[{json.dumps(vals)}]</box>", (0.51 * f.width / 1000, 0.51 * f.height / 1000)


def shikra(b, f, label="obj"):
    s = max(f.width, f.height)
    padx = (s - f.width) // 2 if f.height > f.width else 0
    pady = (s - f.height) // 2 if f.width > f.height else 0
    vals = [(b[0] + padx) / s, (b[1] + pady) / s, (b[2] + padx) / s, (b[3] + pady) / s]
    return f"The {label} [" + ",".join(f"{v:.3f}" for v in vals) + "] .", (0.00051 * s, 0.00051 * s)


def groundinggpt(b, f, label="obj"):
    # Shikra's text; the reading rounds to a whole pixel of the square, then to 3 decimals of the side.
    text, (tx, ty) = shikra(b, f, label)
    return text, (tx + 0.5 + 0.0005 * f.width + 1e-9, ty + 0.5 + 0.0005 * f.height + 1e-9)


def minigpt_v2(b, f, label="obj"):
    vals = [int(b[0] / f.width * 100), int(b[1] / f.height * 100), int(b[2] / f.width * 100), int(b[3] / f.height * 100)]
    return f"<p>{label}</p> {{" + "".join(f"<{v}>" for v in vals) + "}", (f.width / 100 + 1e-9, f.height / 100 + 1e-9)


def kosmos2(b, f, label="obj"):
    col = lambda v: min(31, int(v / f.width * 32))  # noqa: E731
    row = lambda v: min(31, int(v / f.height * 32))  # noqa: E731
    ul, lr = row(b[1]) * 32 + col(b[0]), row(b[3]) * 32 + col(b[2])
    return f"<phrase>{label}</phrase><object><patch_index_{ul:04d}><patch_index_{lr:04d}></object>", (
        f.width / 32 + 1e-9,
        f.height / 32 + 1e-9,
    )


def florence2(b, f, label="obj"):
    q = lambda v, s: min(999, int(v / s * 1000))  # noqa: E731
    bins = [q(b[0], f.width), q(b[1], f.height), q(b[2], f.width), q(b[3], f.height)]
    return label + "".join(f"<loc_{v}>" for v in bins), (f.width / 1000 + 1e-9, f.height / 1000 + 1e-9)


def ferret(b, f, label="obj"):
    vals = [_pm(b[0], f.width), _pm(b[1], f.height), _pm(b[2], f.width), _pm(b[3], f.height)]
    return f"the {label} [{', '.join(map(str, vals))}].", (0.51 * f.width / 1000 + 1, 0.51 * f.height / 1000 + 1)


def cogvlm(b, f, label="obj"):
    vals = [
        min(999, _pm(b[0], f.width)),
        min(999, _pm(b[1], f.height)),
        min(999, _pm(b[2], f.width)),
        min(999, _pm(b[3], f.height)),
    ]
    return f"The {label}[[" + ",".join(f"{v:03d}" for v in vals) + "]]", (1.01 * f.width / 1000, 1.01 * f.height / 1000)


WRITERS = {
    "qwen2_5_vl": qwen2_5_vl,
    "vlm_r1": vlm_r1,
    "qwen3_vl": qwen3_vl,
    "qwen2_vl": qwen2_vl,
    "internvl": internvl,
    "shikra": shikra,
    "groundinggpt": groundinggpt,
    "minigpt_v2": minigpt_v2,
    "kosmos2": kosmos2,
    "florence2": florence2,
    "ferret": ferret,
    "cogvlm": cogvlm,
}
