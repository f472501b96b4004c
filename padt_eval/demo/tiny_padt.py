"""`build_tiny_padt`: a complete, random, tiny PaDT checkpoint folder, built offline.

It has the released checkpoints' layout (legacy 4.50 config and key names, tokenizer
files, chat template, image processor config, generation config) at toy sizes, so every
code path runs in milliseconds on a CPU: about 290k parameters, images capped at 20
merged tokens. Same seed, same bytes (weights from a seeded generator, tokenizer trained
on a fixed corpus).

Shapes follow the golden fixture's tiny model: text hidden 64, 2 layers, 4 heads (2 KV),
M-RoPE sections [2, 3, 3]; vision depth 2, hidden 32, 2 heads, window 56 (windows of 2x2
merged tokens, so the window permutation is exercised); decoder hidden 32, 2 heads. The
embedding table has more rows than the tokenizer has tokens, as in the real checkpoints,
so `<|empty_token_k|>` padding is exercised too.
"""

from __future__ import annotations

import json
from pathlib import Path

from padt_eval.models.released_files import chat_template

QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]
# Qwen2's pre-tokenisation split, as in its tokenizer.json
QWEN_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
CHAT_TEMPLATE = chat_template("qwen2_vl")  # the released Qwen2.5-VL-Instruct template
_CORPUS = [
    'Please carefully check the image and detect the object this sentence describes: "the red square on the left".',
    'Please carefully check the image and detect the following objects: ["person", "car", "dog", "cat", "bicycle"].',
    "Please describe this image.",
    'The "the man in the blue shirt" refers to in this image.',
    'In this image, there are 2 "person" (, ), 1 "dog" ().',
    'There is 1 "square" () in this image. There are 3 "circle" (, , ) in this image.',
    "No objects from the list are present in the image",
    "A green triangle () and two yellow circles (, ) on a gray background.",
    "a red rectangle, a blue disc and a dark line; the left one, the right one, the small one.",
    "You are a helpful assistant. user assistant system",
]

DEFAULT_SIZES = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "mrope_section": [2, 3, 3],
    "vision_depth": 2,
    "vision_hidden_size": 32,
    "vision_intermediate_size": 64,
    "vision_num_heads": 2,
    "window_size": 56,
    "fullatt_block_indexes": [1],
    "decoder_hidden_size": 32,
    "decoder_intermediate_size": 64,
    "decoder_num_heads": 2,
    "extra_vocab_rows": 38,
    "bpe_vocab_size": 420,
    "min_pixels": 3136,
    "max_pixels": 15680,
}


def build_tokenizer(vocab_size: int = 420):
    """Byte-level BPE with the full byte alphabet, Qwen2 pre-tokenisation, then the 22 Qwen
    special tokens appended in Qwen's order (so, as in Qwen, they follow the BPE vocabulary)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.normalizer = normalizers.NFC()
    tk.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False, special_tokens=[]
    )
    tk.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL_TOKENS])
    return tk


def tiny_config(tokenizer, sizes: dict, tie_word_embeddings: bool) -> dict:
    tid = tokenizer.token_to_id
    vocab = tokenizer.get_vocab_size(with_added_tokens=True) + sizes["extra_vocab_rows"]
    return {
        "architectures": ["PaDTForConditionalGeneration"],
        "model_type": "qwen2_5_vl",
        "attention_dropout": 0.0,
        "bos_token_id": tid("<|endoftext|>"),
        "eos_token_id": tid("<|im_end|>"),
        "hidden_act": "silu",
        "hidden_size": sizes["hidden_size"],
        "image_token_id": tid("<|image_pad|>"),
        "initializer_range": 0.02,
        "intermediate_size": sizes["intermediate_size"],
        "max_position_embeddings": 4096,
        "max_window_layers": sizes["num_hidden_layers"],
        "num_attention_heads": sizes["num_attention_heads"],
        "num_hidden_layers": sizes["num_hidden_layers"],
        "num_key_value_heads": sizes["num_key_value_heads"],
        "rms_norm_eps": 1e-06,
        "rope_scaling": {"mrope_section": list(sizes["mrope_section"]), "rope_type": "default", "type": "default"},
        "rope_theta": 1000000.0,
        "sliding_window": 4096,
        "tie_word_embeddings": bool(tie_word_embeddings),
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "use_visual_prototype_projection": True,
        "video_token_id": tid("<|video_pad|>"),
        "vision_config": {
            "depth": sizes["vision_depth"],
            "fullatt_block_indexes": list(sizes["fullatt_block_indexes"]),
            "hidden_act": "silu",
            "hidden_size": sizes["vision_hidden_size"],
            "in_channels": 3,
            "initializer_range": 0.02,
            "intermediate_size": sizes["vision_intermediate_size"],
            "model_type": "qwen2_5_vl",
            "num_heads": sizes["vision_num_heads"],
            "out_hidden_size": sizes["hidden_size"],
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "tokens_per_second": 2,
            "window_size": sizes["window_size"],
        },
        "vision_end_token_id": tid("<|vision_end|>"),
        "vision_start_token_id": tid("<|vision_start|>"),
        "vision_token_id": tid("<|vision_pad|>"),
        "vl_decoder": {
            "attn_implementation": "flash_attention_2",
            "hidden_size": sizes["decoder_hidden_size"],
            "intermediate_size": sizes["decoder_intermediate_size"],
            "llm_hidden_state": sizes["hidden_size"],
            "name": "PaDTDecoder",
            "num_heads": sizes["decoder_num_heads"],
            "spatial_merge_size": 2,
            "use_mask_loss": True,
        },
        "vocab_size": vocab,
    }


def legacy_key(name: str) -> str:
    """Our parameter name -> the reference's (transformers 4.50) checkpoint key."""
    return "model." + name[len("language_model.") :] if name.startswith("language_model.") else name


def random_state_dict(model, seed: int) -> dict:
    """Deterministic weights, parameter by parameter in sorted-name order: embedding-like
    tables ~ N(0,1); matrices ~ N(0, 1/fan_in); biases ~ 0.1 N(0,1); 1-D norm weights
    ~ 1 + 0.2 N(0,1). (The zero-initialised vis_norm of a fresh PaDT gets non-zero values
    too, so the prototype path is not trivially zero.)"""
    import torch

    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, p in sorted(model.state_dict().items()):
        shape = tuple(p.shape)
        if name.endswith(("embed_tokens.weight", "vp_embedding.weight", "bbox_score_mask_tokens.weight", "lm_head.weight")):
            t = torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:
            t = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        else:
            fan_in = int(torch.tensor(shape[1:]).prod())
            t = torch.randn(shape, generator=gen) / fan_in**0.5
        state[name] = t.contiguous()
    return state


def build_tiny_padt(
    out_dir, seed: int = 0, tie_word_embeddings: bool = False, real_vocab: bool = False, **size_overrides
) -> Path:
    """Write a complete tiny PaDT checkpoint folder to `out_dir` and return its path.

    `real_vocab`: the released Qwen2.5 tokenizer (151,665 entries) and a 151,936-row
    embedding, so VRT ids start at 151936 as in the released checkpoints, and the released
    Qwen2.5-VL image-processor limits (needs the test extra)."""
    import torch
    from safetensors.torch import save_file

    from padt_eval.models.padt.config import parse_config
    from padt_eval.models.padt.model import PadtModel

    sizes = dict(DEFAULT_SIZES)
    unknown = set(size_overrides) - set(sizes)
    if unknown:
        raise TypeError(f"unknown size overrides: {sorted(unknown)}")
    sizes.update(size_overrides)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tk = _real_tokenizer(out, sizes) if real_vocab else build_tokenizer(sizes["bpe_vocab_size"])
    tk.save(str(out / "tokenizer.json"))
    config = tiny_config(tk, sizes, tie_word_embeddings)
    _write_json(out / "config.json", config)
    tid = tk.token_to_id
    _write_json(
        out / "generation_config.json",
        {
            "bos_token_id": tid("<|endoftext|>"),
            "do_sample": True,
            "eos_token_id": [tid("<|im_end|>"), tid("<|endoftext|>")],
            "pad_token_id": tid("<|endoftext|>"),
            "repetition_penalty": 1.05,
            "temperature": 0.1,
            "top_k": 1,
            "top_p": 0.001,
        },
    )
    _write_json(
        out / "tokenizer_config.json",
        {
            "added_tokens_decoder": {
                str(tid(t)): {
                    "content": t,
                    "lstrip": False,
                    "normalized": False,
                    "rstrip": False,
                    "single_word": False,
                    "special": True,
                }
                for t in QWEN_SPECIAL_TOKENS
            },
            "additional_special_tokens": QWEN_SPECIAL_TOKENS[1:14],
            "bos_token": None,
            "chat_template": CHAT_TEMPLATE,
            "clean_up_tokenization_spaces": False,
            "eos_token": "<|im_end|>",
            "errors": "replace",
            "model_max_length": 32768,
            "pad_token": "<|endoftext|>",
            "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None,
        },
    )
    _write_json(out / "special_tokens_map.json", {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})
    _write_json(out / "chat_template.json", {"chat_template": CHAT_TEMPLATE})
    _write_json(
        out / "preprocessor_config.json",
        {
            "do_convert_rgb": True,
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "image_processor_type": "Qwen2VLImageProcessor",
            "max_pixels": sizes["max_pixels"],
            "merge_size": 2,
            "min_pixels": sizes["min_pixels"],
            "patch_size": 14,
            "processor_class": "Qwen2_5_VLProcessor",
            "resample": 3,
            "rescale_factor": 0.00392156862745098,
            "size": {"longest_edge": sizes["max_pixels"], "shortest_edge": sizes["min_pixels"]},
            "temporal_patch_size": 2,
        },
    )
    with torch.device("meta"):
        skeleton = PadtModel(parse_config(config), attn="sdpa")
    state = random_state_dict(skeleton, seed)
    save_file({legacy_key(k): v for k, v in state.items()}, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def _real_tokenizer(out: Path, sizes: dict):
    """The released Qwen2.5 tokenizer; sets `sizes` to the released embedding rows and pixels."""
    import shutil

    from tokenizers import Tokenizer

    from padt_eval.models.released_files import QWEN_EMBEDDING_ROWS, preprocessor_config, write_qwen_tokenizer

    src = write_qwen_tokenizer(out / ".tokenizer_src", "qwen2.5")
    tk = Tokenizer.from_file(str(src / "tokenizer.json"))
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(src / name, out / name)
    shutil.rmtree(src)
    released = preprocessor_config("qwen2_5_vl")
    sizes.update(
        extra_vocab_rows=QWEN_EMBEDDING_ROWS - tk.get_vocab_size(with_added_tokens=True),
        min_pixels=released["min_pixels"],
        max_pixels=released["max_pixels"],
    )
    return tk


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
