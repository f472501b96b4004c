"""The built-in coordinate-text families: one `TextFamily` entry each (pure Python).

Runnable families (transformers ships them natively) name their adapter and transformers
class, and detect a checkpoint by config.json's `model_type`; the others are scored from
their own outputs: raw text with `--predictions F --format NAME`, or, for the mask and
region-token models (LISA, PixelLM, GLaMM, Groma, REF-VLM), predictions files that
already carry boxes and COCO RLE masks in original-image pixels. What an entry holds:
coords/registry.py; how to add one: docs/extending.md.
"""

from __future__ import annotations

from padt_eval.models.coords import (
    cogvlm,
    ferret,
    florence2,
    groundinggpt,
    internvl,
    kosmos2,
    minigpt_v2,
    qwen2_5_vl,
    qwen2_vl,
    qwen3_vl,
    shikra,
)
from padt_eval.models.coords.registry import TextFamily, TextFormat, register_model

HF_REQUIREMENTS = ("torch", "transformers", "tokenizers", "PIL")
QWEN_REQUIREMENTS = HF_REQUIREMENTS + ("torchvision",)  # the Qwen and InternVL image/video processors need it
#: The families that answer in the paper's JSON syntax offer the PaDT paper's baseline
#: prompts (A.3, tasks/baseline_prompts.py) beside their native ones; PaDT's tables were
#: measured with them for Qwen2.5-VL and InternVL3, which use them by default.
PAPER_AND_NATIVE = ("paper", "native")
_TINY = "padt_eval.models.hf.tiny"


def _name(name: str) -> str:
    return name.lower().replace("_", "-")


def _model_type(config: dict) -> str:
    return str(config.get("model_type") or "")


def detect(model_types: tuple[str, ...], names: tuple[str, ...] = ()):
    """config.json `model_type` when there is a config; the model id otherwise."""

    def rule(config: dict, name: str) -> bool:
        if config:
            return _model_type(config) in model_types
        return any(n in _name(name) for n in names)

    return rule


def _is_vlm_r1(config: dict, name: str) -> bool:
    return "vlm-r1" in _name(name) and (not config or _model_type(config) == "qwen2_5_vl")


_QWEN25_CLASS = {"qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration"}

register_model(
    TextFamily(
        "qwen2_5_vl",
        "Qwen2.5-VL-{3B,7B,72B}-Instruct (and Qwen2.5-VL-SFT); prompts: paper (default) | native",
        detect(("qwen2_5_vl",), ("qwen2.5-vl", "qwen2-5-vl", "qwen2.5vl")),
        format=TextFormat(
            "qwen2_5_vl",
            '```json [{"bbox_2d": [x1, y1, x2, y2], "label": "…"}] ```',
            "pixels of the smart_resize'd input (w', h'): x·W/w', y·H/h'",
            qwen2_5_vl.parse,
            needs_input_size=True,
        ),
        adapter="padt_eval.models.hf.qwen:Qwen25VLAdapter",
        model_classes=_QWEN25_CLASS,
        prompt_styles=PAPER_AND_NATIVE,
        default_prompt_style="paper",
        dynamic_resize=True,
        vllm=True,
        tiny=f"{_TINY}:build_qwen2_5_vl",
        requirements=QWEN_REQUIREMENTS,
    )
)
register_model(
    TextFamily(
        "vlm_r1",
        "VLM-R1 (omlab/Qwen2.5VL-3B-VLM-R1-REC-500steps, omlab/VLM-R1-Qwen2.5VL-3B-OVD-0321): Qwen2.5-VL + GRPO, "
        "answers in <answer> tags; detected by 'VLM-R1' in the model id, else pass --family vlm_r1",
        _is_vlm_r1,
        precedence=10,  # its config is a plain Qwen2.5-VL one: the name decides, before qwen2_5_vl's model_type rule
        format=TextFormat(
            "vlm_r1",
            '<think>…</think><answer>{"bbox_2d": [x1, y1, x2, y2], …}</answer>',
            "as qwen2_5_vl; the <answer> tag is required",
            qwen2_5_vl.parse_vlm_r1,
            needs_input_size=True,
        ),
        adapter="padt_eval.models.hf.qwen:Qwen25VLAdapter",
        model_classes=_QWEN25_CLASS,
        dynamic_resize=True,
        vllm=True,
        requirements=QWEN_REQUIREMENTS,
    )
)
register_model(
    TextFamily(
        "qwen3_vl",
        "Qwen3-VL (dense and MoE)",
        detect(("qwen3_vl", "qwen3_vl_moe"), ("qwen3-vl",)),
        format=TextFormat(
            "qwen3_vl", '[{"bbox_2d": [x1, y1, x2, y2], "label": "…"}]', "relative 0-1000: v/1000·W", qwen3_vl.parse
        ),
        adapter="padt_eval.models.hf.qwen:QwenAdapter",
        model_classes={"qwen3_vl": "Qwen3VLForConditionalGeneration", "qwen3_vl_moe": "Qwen3VLMoeForConditionalGeneration"},
        prompt_styles=PAPER_AND_NATIVE,
        dynamic_resize=True,
        vllm=True,
        tiny=f"{_TINY}:build_qwen3_vl",
        requirements=QWEN_REQUIREMENTS,
    )
)
register_model(
    TextFamily(
        "qwen2_vl",
        "Qwen2-VL-{2B,7B,72B}-Instruct",
        detect(("qwen2_vl",), ("qwen2-vl",)),
        format=TextFormat(
            "qwen2_vl",
            "<|object_ref_start|>…<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>",
            "relative 0-1000: v/1000·W",
            qwen2_vl.parse,
        ),
        adapter="padt_eval.models.hf.qwen:QwenAdapter",
        model_classes={"qwen2_vl": "Qwen2VLForConditionalGeneration"},
        dynamic_resize=True,
        vllm=True,
        tiny=f"{_TINY}:build_qwen2_vl",
        requirements=QWEN_REQUIREMENTS,
    )
)
register_model(
    TextFamily(
        "internvl",
        "InternVL2.5 / InternVL3 '-hf' checkpoints (native transformers); prompts: paper (default) | native",
        detect(("internvl", "internvl_chat"), ("internvl",)),
        format=TextFormat("internvl", "<ref>…</ref><box>[[x1, y1, x2, y2]]</box>", "relative 0-1000: v/1000·W", internvl.parse),
        adapter="padt_eval.models.hf.internvl:InternVLAdapter",
        model_classes={"internvl": "InternVLForConditionalGeneration"},
        prompt_styles=PAPER_AND_NATIVE,
        default_prompt_style="paper",
        vllm=True,
        tiny=f"{_TINY}:build_internvl",
        requirements=QWEN_REQUIREMENTS,
    )
)
register_model(
    TextFamily(
        "shikra",
        "Shikra-7B (own repository: shikras/shikra)",
        detect((), ("shikra",)),
        format=TextFormat(
            "shikra",
            "Answer: [0.312,0.406,0.555,0.781] .",
            "0-1 of the expand2square padded square S=max(W,H): v·S − pad",
            shikra.parse,
        ),
    )
)
register_model(
    TextFamily(
        "groundinggpt",
        "GroundingGPT-7B (own repository: lzw-lzw/GroundingGPT)",
        detect((), ("groundinggpt",)),
        format=TextFormat(
            "groundinggpt",
            "[0.312, 0.406, 0.555, 0.781]",
            "0-1 of the expand2square padded square S=max(W,H), GroundingGPT's rounding: round((round(v·S) − pad) / W, 3) · W",
            groundinggpt.parse,
        ),
    )
)
register_model(
    TextFamily(
        "minigpt_v2",
        "MiniGPT-v2 (own repository: Vision-CAIR/MiniGPT-4)",
        detect((), ("minigpt",)),
        format=TextFormat("minigpt_v2", "<p>…</p> {<x1><y1><x2><y2>}<delim>{…}", "integers 0-100: v/100·W", minigpt_v2.parse),
    )
)
register_model(
    TextFamily(
        "kosmos2",
        "microsoft/kosmos-2-patch14-224",
        detect(("kosmos-2",), ("kosmos-2",)),
        format=TextFormat(
            "kosmos2",
            "<phrase>…</phrase><object><patch_index_0389><patch_index_0758></object>",
            "32x32 cells: cell centres, or full cells when the corners share a row or column",
            kosmos2.parse,
        ),
        adapter="padt_eval.models.hf.kosmos2:Kosmos2Adapter",
        model_classes={"kosmos-2": "Kosmos2ForConditionalGeneration"},
        tiny=f"{_TINY}:build_kosmos2",
        requirements=HF_REQUIREMENTS,
    )
)
register_model(
    TextFamily(
        "florence2",
        "Florence-2 native checkpoints (florence-community/Florence-2-{base,large}[-ft])",
        detect(("florence2",), ("florence-2",)),
        format=TextFormat(
            "florence2",
            "…<loc_312><loc_406><loc_555><loc_781>",
            "1000 bins: (bin+0.5)·W/1000",
            florence2.parse,
            parse_masks=florence2.parse_polygons,
        ),
        adapter="padt_eval.models.hf.florence2:Florence2Adapter",
        model_classes={"florence2": "Florence2ForConditionalGeneration"},
        tiny=f"{_TINY}:build_florence2",
        requirements=HF_REQUIREMENTS,
    )
)
register_model(
    TextFamily(
        "ferret",
        "Ferret 7B/13B (own repository: apple/ml-ferret); Ferret-v2 assumed the same text form",
        detect((), ("ferret",)),
        format=TextFormat(
            "ferret",
            "… [312, 406, 555, 781]",
            "virtual 1000x1000 image: int(v·(W·1.0/1000)), truncated in the order of Ferret's scorer",
            ferret.parse,
        ),
    )
)
register_model(
    TextFamily(
        "cogvlm",
        "CogVLM-grounding (THUDM/cogvlm-grounding-generalist-hf, remote code only)",
        lambda config, name: ("cogvlm" in _model_type(config)) if config else "cogvlm" in _name(name),
        format=TextFormat("cogvlm", "…[[086,540,400,760;…]]", "relative x1000, zero-padded 0-999: v/1000·W", cogvlm.parse),
    )
)

_MASK_NOTE = (
    "needs its own repository; write a predictions file with boxes and COCO RLE masks in original-image "
    "pixels (objects[].bbox, objects[].mask) and score it with --predictions F (no --format)"
)
for _n, _d in (
    ("lisa", "LISA-7B/13B: [SEG] token -> SAM mask (own repository)"),
    ("pixellm", "PixelLM (own repository)"),
    ("glamm", "GLaMM (own repository)"),
    ("groma", "Groma: <roi><rN></roi> region tokens index its own proposals; no coordinate text (run its eval, export boxes)"),
    ("ref_vlm", "REF-VLM (own repository)"),
):
    register_model(TextFamily(_n, _d, how_to_score=_MASK_NOTE))
