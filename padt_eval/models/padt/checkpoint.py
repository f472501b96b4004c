"""Finding a PaDT checkpoint, checking that it fits, and loading its weights.

* A model is a local folder or a Hugging Face id (`PaDT-MLLM/PaDT_REC_3B`, ...). Ids go
  through `huggingface_hub.snapshot_download`, which honours HF_HUB_OFFLINE: offline, an id
  that is not in the local cache is a clear `CheckpointError`, never a hang.
* Weights are safetensors, one file or shards listed in `model.safetensors.index.json`,
  under the reference's (transformers 4.50) names. `map_key` maps them onto our module
  tree; checkpoints saved by transformers >= 4.52 (`model.visual.*`,
  `model.language_model.*`) map too.
* Before anything is loaded, every key and shape is compared with the model: missing keys,
  unexpected keys and shape mismatches are all listed in one `CheckpointError`.
* Tied embeddings: `lm_head.weight` is neither required nor used (a tied checkpoint that
  still stores it is accepted; the tie wins, as it does in the reference).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from padt_eval.core.errors import CheckpointError

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.jinja", "*.model"]


@dataclass
class ResolvedCheckpoint:
    folder: Path
    model_id: str  # what the user asked for
    revision: str | None = None  # hub commit when known
    weight_files: list[Path] = field(default_factory=list)


def map_key(key: str) -> str:
    """Checkpoint key -> our parameter name."""
    if key.startswith("model.visual."):
        return "visual." + key[len("model.visual.") :]
    if key.startswith("model.language_model."):
        return "language_model." + key[len("model.language_model.") :]
    if key.startswith("model."):
        return "language_model." + key[len("model.") :]
    return key


def resolve(model: str, revision: str | None = None) -> ResolvedCheckpoint:
    path = Path(model).expanduser()
    if path.is_dir():
        return ResolvedCheckpoint(folder=path.resolve(), model_id=model, revision=revision, weight_files=weight_files(path))
    if path.exists() or model.count("/") != 1 or model.startswith((".", "/", "~")):
        raise CheckpointError(f"model {model!r} is neither a checkpoint folder nor a Hugging Face id (owner/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        folder = Path(snapshot_download(repo_id=model, revision=revision, allow_patterns=_HUB_PATTERNS, local_files_only=offline))
    except LocalEntryNotFoundError:
        how = "HF_HUB_OFFLINE is set" if offline else "the hub could not be reached"
        raise CheckpointError(
            f"model {model!r} is not in the local Hugging Face cache and {how}; download it first "
            f"(huggingface-cli download {model}) or pass the path of a checkpoint folder"
        ) from None
    except Exception as exc:  # network errors, unknown repo, gated repo ...
        raise CheckpointError(f"could not fetch {model!r} from the Hugging Face hub: {exc}") from None
    rev = folder.name if folder.parent.name == "snapshots" else revision
    return ResolvedCheckpoint(folder=folder, model_id=model, revision=rev, weight_files=weight_files(folder))


def weight_files(folder: Path) -> list[Path]:
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (json.JSONDecodeError, KeyError) as exc:
            raise CheckpointError(f"{index}: unreadable shard index ({exc})") from None
        files = [folder / n for n in names]
    elif (folder / WEIGHTS_FILE).is_file():
        files = [folder / WEIGHTS_FILE]
    else:
        raise CheckpointError(f"{folder}: no {WEIGHTS_FILE} or {INDEX_FILE}; PaDT weights must be safetensors")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise CheckpointError(f"{folder}: weight shards listed in the index are missing: {', '.join(missing)}")
    return files


def _format_list(items: list[str], limit: int = 40) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" ... (+{len(items) - limit} more)" if len(items) > limit else "")


def check_and_load(model, files: list[Path], *, dtype, device, source: str) -> list[str]:
    """Compare keys/shapes with `model` (built on the meta device), then load every tensor
    directly as `dtype` on `device`. Returns notes (e.g. an ignored tied lm_head)."""
    import torch
    from safetensors import safe_open

    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found: dict[str, tuple[Path, str, tuple[int, ...]]] = {}
    notes: list[str] = []
    for f in files:
        try:
            with safe_open(str(f), framework="pt") as fh:
                for key in fh.keys():
                    found[map_key(key)] = (f, key, tuple(fh.get_slice(key).get_shape()))
        except Exception as exc:
            raise CheckpointError(f"{f}: not a readable safetensors file ({exc})") from None
    if model.lm_head is None and "lm_head.weight" in found:
        found.pop("lm_head.weight")
        notes.append("lm_head.weight present but tie_word_embeddings=true: ignored (embed_tokens is the output matrix)")

    missing = sorted(k for k in expected if k not in found)
    unexpected = sorted(found[k][1] for k in found if k not in expected)
    mismatched = sorted(
        f"{found[k][1]}: checkpoint {list(found[k][2])} vs model {list(expected[k])}"
        for k in expected
        if k in found and found[k][2] != expected[k]
    )
    if missing or unexpected or mismatched:
        lines = [f"checkpoint {source} does not fit the PaDT architecture of its config.json:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {_format_list(missing)}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {_format_list(unexpected)}")
        if mismatched:
            lines.append(f"  shape mismatches ({len(mismatched)}): {_format_list(mismatched)}")
        raise CheckpointError("\n".join(lines))

    state = {}
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for ours, (f, key, _) in found.items():
        by_file.setdefault(f, []).append((ours, key))
    for f, pairs in by_file.items():
        with safe_open(str(f), framework="pt", device="cpu") as fh:
            for ours, key in pairs:
                t = fh.get_tensor(key)
                state[ours] = t.to(device=device, dtype=dtype if t.is_floating_point() else t.dtype)
    model.load_state_dict(state, strict=True, assign=True)
    del state
    torch.nn.Module.requires_grad_(model, False)
    return notes


DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


def torch_dtype(name: str):
    import torch

    from padt_eval.core.errors import UsageError

    key = DTYPES.get(str(name).replace("torch.", ""))
    if key is None:
        raise UsageError(f"dtype must be one of float32, bfloat16, float16; got {name!r}")
    return getattr(torch, key)


def build_model(resolved: ResolvedCheckpoint, *, dtype: str = "float32", device: str = "cpu", attn: str = "sdpa"):
    """Config -> model skeleton on the meta device -> checked weights on `device`."""
    import torch

    from .config import load_config
    from .model import PadtModel, check_attn, restore_rotary_buffers

    check_attn(attn)
    cfg = load_config(resolved.folder)
    tdtype = torch_dtype(dtype)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from padt_eval.core.errors import UsageError

        raise UsageError("device='cuda' requested but CUDA is not available here")
    with torch.device("meta"):
        model = PadtModel(cfg, attn=attn)
    notes = check_and_load(model, resolved.weight_files, dtype=tdtype, device=dev, source=str(resolved.folder))
    restore_rotary_buffers(model, dev)
    model.eval()
    return model, notes
