"""Loading a transformers checkpoint for an adapter: processor + model, no remote code.

`trust_remote_code` is never passed: every family here has native classes in
transformers, and a checkpoint that needs remote code is refused with a message that
names the native checkpoints instead.
"""

from __future__ import annotations

from typing import Any

from padt_eval.core.errors import UsageError
from padt_eval.models.coords.registry import TextFamily, resolve
from padt_eval.models.hf.adapter import resolve_device_dtype


def needs_remote_code(config: dict | None) -> bool:
    return bool(config and config.get("auto_map"))


def load_pretrained(
    model_id: str,
    model_class: str,
    *,
    device: str | None,
    dtype: str | None,
    revision: str | None = None,
    attn: str | None = None,
) -> tuple[Any, Any, str]:
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
    cls = getattr(transformers, model_class)
    kwargs: dict[str, Any] = {"attn_implementation": attn} if attn else {}
    try:
        processor = transformers.AutoProcessor.from_pretrained(model_id, revision=revision)
        model = cls.from_pretrained(model_id, revision=revision, dtype=torch_dtype, **kwargs)
    except OSError as exc:  # not downloaded (offline), no such repo, missing files
        raise UsageError(f"cannot load {model_id} as {model_class}: {exc}") from None
    model = model.to(device).eval()
    return model, processor, device


def load(family: TextFamily, model_id: str, **options: Any):
    """`family`'s adapter on its transformers checkpoint `model_id` (the entry names both)."""
    from padt_eval.models.loading import read_config

    model_class = family.model_class(read_config(model_id))
    return load_adapter(
        resolve(family.adapter), model_class, family.name, model_id, takes_pixels=family.dynamic_resize, **options
    )


def load_adapter(
    adapter_cls: type,
    model_class: str,
    family: str,
    model_id: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    attn: str | None = None,
    revision: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    takes_pixels: bool = False,
    **options: Any,
):
    """Check the options, load the checkpoint, wrap it in `adapter_cls`."""
    from padt_eval.models.hf.adapter import check_options

    check_options(family, options, ("prompt_style", "max_new_tokens", "extra_generate_kwargs"))
    if (min_pixels is not None or max_pixels is not None) and not takes_pixels:
        raise UsageError(f"model family {family!r} has no dynamic resize; --min-pixels/--max-pixels do not apply")
    model, processor, dev = load_pretrained(model_id, model_class, device=device, dtype=dtype, revision=revision, attn=attn)
    if min_pixels is not None or max_pixels is not None:
        set_pixel_limits(processor.image_processor, min_pixels, max_pixels)
    return adapter_cls(model, processor, name=model_id, family=family, device=dev, revision=revision, **options)


def set_pixel_limits(image_processor: Any, min_pixels: int | None, max_pixels: int | None) -> None:
    """Override the dynamic-resize limits of a Qwen image processor (its `size`'s
    shortest_edge / longest_edge, which are pixel counts), keeping the other one."""
    size = image_processor.size
    get = size.get if isinstance(size, dict) else (lambda k: getattr(size, k, None))
    lo = int(min_pixels) if min_pixels is not None else get("shortest_edge")
    hi = int(max_pixels) if max_pixels is not None else get("longest_edge")
    if lo is None or hi is None or lo <= 0 or hi < lo:
        raise UsageError(f"--min-pixels ({lo}) must be positive and at most --max-pixels ({hi})")
    if isinstance(size, dict):
        image_processor.size = {**size, "shortest_edge": lo, "longest_edge": hi}
    else:
        from transformers.image_utils import SizeDict

        image_processor.size = SizeDict(**{**vars(size), "shortest_edge": lo, "longest_edge": hi})
