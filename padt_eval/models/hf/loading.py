"""Loading a transformers checkpoint for an adapter: processor + model, no remote code.

`trust_remote_code` is never passed: every family here has native classes in
transformers, and a checkpoint that needs remote code is refused with a message that
names the native checkpoints instead.
"""

from __future__ import annotations

from typing import Any

from padt_eval.errors import UsageError
from padt_eval.models.hf.adapter import resolve_device_dtype


def needs_remote_code(config: dict | None) -> bool:
    return bool(config and config.get("auto_map"))


def load_pretrained(model_id: str, model_class: str, *, device: str | None, dtype: str | None, revision: str | None = None, processor_kwargs: dict | None = None) -> tuple[Any, Any, str]:
    """(model, processor, device) with the model in eval mode on `device`."""
    import transformers

    from padt_eval.models.loading import read_config

    config = read_config(model_id)
    if needs_remote_code(config):
        raise UsageError(
            f"{model_id} is a remote-code checkpoint (its config.json has 'auto_map'); padt-eval runs only the "
            "transformers-native checkpoints (e.g. OpenGVLab/InternVL3-8B-hf, florence-community/Florence-2-large). "
            "Score this model's own outputs with --predictions F --format NAME instead."
        )
    device, torch_dtype = resolve_device_dtype(device, dtype)
    processor = transformers.AutoProcessor.from_pretrained(model_id, revision=revision, **(processor_kwargs or {}))
    cls = getattr(transformers, model_class)
    model = cls.from_pretrained(model_id, revision=revision, dtype=torch_dtype)
    model = model.to(device).eval()
    return model, processor, device
