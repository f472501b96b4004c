"""The PaDT tokenizer: the checkpoint's byte-level BPE plus PaDT's two kinds of added tokens.

We drive the `tokenizers` library directly (the checkpoint's `tokenizer.json`) instead of a
transformers tokenizer class: the classes were rewritten in transformers 5, while the
`tokenizers` file format and its added-token matching are what the reference relied on.

* `prepare(E)` pads the vocabulary with special tokens `<|empty_token_k|>` until it has
  exactly E entries (E = rows of the embedding table), as the reference's processor
  wrapper does (151665 -> 151936 for the released tokenizer).
* `ensure_vrts(n)` appends ordinary (non-special, un-normalised) tokens `<|VRT_i|>` for
  every i < n not yet present, so that `<|VRT_i|>` is always id E + i. Like the reference,
  the vocabulary grows lazily and in place; a processor call asks for the largest image of
  its batch.
* Chat prompts are rendered from the checkpoint's Jinja chat template the way transformers
  renders them (sandboxed, trim_blocks, lstrip_blocks).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tokenizers import AddedToken, Tokenizer

from padt_eval.core.errors import CheckpointError

# Used only when a checkpoint carries no chat template at all (Qwen2-VL's default).
DEFAULT_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def vrt_token(i: int) -> str:
    return f"<|VRT_{i}|>"


class PadtTokenizer:
    def __init__(self, tokenizer: Tokenizer, *, eos_token: str, pad_token: str, chat_template: str):
        self.tk = tokenizer
        self.eos_token = eos_token
        self.pad_token = pad_token
        self.chat_template = chat_template
        self.embed_size: int | None = None  # E, set by prepare()
        self._template = None

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_folder(cls, folder: str | Path) -> PadtTokenizer:
        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise CheckpointError(f"{path}: not found; PaDT needs the checkpoint's tokenizer.json")
        tk = Tokenizer.from_file(str(path))
        cfg = _read_json(folder / "tokenizer_config.json")
        template = _read_json(folder / "chat_template.json").get("chat_template") or cfg.get("chat_template")
        if not isinstance(template, str):  # a list of named templates, or nothing
            template = DEFAULT_CHAT_TEMPLATE
        eos = _token_text(cfg.get("eos_token")) or "<|im_end|>"
        pad = _token_text(cfg.get("pad_token")) or "<|endoftext|>"
        for name, tok in (("eos", eos), ("pad", pad)):
            if tk.token_to_id(tok) is None:
                raise CheckpointError(f"{folder}: {name} token {tok!r} is not in tokenizer.json")
        return cls(tk, eos_token=eos, pad_token=pad, chat_template=template)

    # -- PaDT's vocabulary layout ------------------------------------------------------------
    def __len__(self) -> int:
        return self.tk.get_vocab_size(with_added_tokens=True)

    def prepare(self, embed_size: int) -> None:
        """Pad with `<|empty_token_k|>` so that the vocabulary has exactly E entries (idempotent)."""
        if self.embed_size is not None:
            if self.embed_size != embed_size:
                raise CheckpointError(f"tokenizer already prepared for {self.embed_size} rows, not {embed_size}")
            return
        have = len(self)
        if have > embed_size:
            raise CheckpointError(f"tokenizer has {have} tokens but the embedding table only {embed_size} rows")
        if have < embed_size:
            self.tk.add_tokens(
                [
                    AddedToken(f"<|empty_token_{i}|>", lstrip=False, rstrip=False, special=True, normalized=False)
                    for i in range(embed_size - have)
                ]
            )
        self.embed_size = embed_size

    @property
    def num_vrts(self) -> int:
        return len(self) - self._e()

    def ensure_vrts(self, n: int) -> None:
        """Make `<|VRT_0|>` ... `<|VRT_{n-1}|>` exist (ids E ... E+n-1)."""
        have = self.num_vrts
        if n > have:
            self.tk.add_tokens(
                [AddedToken(vrt_token(i), lstrip=False, rstrip=False, special=False, normalized=False) for i in range(have, n)]
            )
            if self.tk.token_to_id(vrt_token(n - 1)) != self._e() + n - 1:
                raise CheckpointError("tokenizer VRT ids are not contiguous after the embedding rows")

    def _e(self) -> int:
        if self.embed_size is None:
            raise RuntimeError("PadtTokenizer.prepare(embed_size) must be called first")
        return self.embed_size

    # -- text <-> ids ------------------------------------------------------------------------
    def token_id(self, token: str) -> int:
        i = self.tk.token_to_id(token)
        if i is None:
            raise KeyError(token)
        return i

    @property
    def eos_id(self) -> int:
        return self.token_id(self.eos_token)

    @property
    def pad_id(self) -> int:
        return self.token_id(self.pad_token)

    def encode(self, text: str) -> list[int]:
        return self.tk.encode(text, add_special_tokens=False).ids

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each id decoded on its own (special tokens kept), as the reference's parser sees them."""
        return [self.tk.decode([int(i)], skip_special_tokens=False) for i in ids]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.token_strings(ids))

    # -- chat prompts ------------------------------------------------------------------------
    def render_prompt(self, prompt: str) -> str:
        """One user turn holding one image then the prompt text, plus the assistant header."""
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        return self._compiled().render(messages=messages, add_generation_prompt=True)

    def _compiled(self):
        if self._template is None:
            import jinja2.ext
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            def raise_exception(message):
                raise jinja2.exceptions.TemplateError(message)

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
            env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
            env.globals["raise_exception"] = raise_exception
            self._template = env.from_string(self.chat_template)
        return self._template


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None


def _token_text(value) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None
