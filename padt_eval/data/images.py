"""Image paths: confinement to the image root, and lazy opening with clear errors."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from padt_eval.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from padt_eval.types import ImageRef


def confined_path(image_root: str | Path, relative: str, *, context: str) -> str:
    """Join `relative` under `image_root`, refusing anything that would leave the root.

    Annotation files come from the internet; an entry such as `../../etc/passwd` or an
    absolute path must not make us read (or later write beside) files outside the
    dataset. `context` names the file and line for the message.
    """
    if not isinstance(relative, str) or not relative:
        raise DataError(f"{context}: image path must be a non-empty string, got {relative!r}")
    if (
        os.path.isabs(relative)
        or PurePosixPath(relative).is_absolute()
        or PureWindowsPath(relative).is_absolute()
        or PureWindowsPath(relative).drive
    ):
        raise DataError(f"{context}: image path {relative!r} is absolute; only paths inside the image root are allowed")
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if ".." in parts:
        raise DataError(f"{context}: image path {relative!r} leaves the image root ('..' is not allowed)")
    root = Path(image_root).resolve()
    full = (root / Path(*parts)).resolve()
    # A symlink inside the root could still point outside it.
    if full != root and root not in full.parents:
        raise DataError(f"{context}: image path {relative!r} resolves to {full}, outside the image root {root}")
    return str(full)


def open_rgb(ref: "ImageRef") -> "Image.Image":
    """Open an image as RGB, with an error that names the file when it is missing or corrupt."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(ref.path) as im:
            im.load()
            rgb = im.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"image not found: {ref.path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"image cannot be read: {ref.path} ({exc})") from None
    if rgb.size != (ref.width, ref.height):
        raise DataError(
            f"image {ref.path} is {rgb.size[0]}x{rgb.size[1]} but its annotation says "
            f"{ref.width}x{ref.height}; boxes would be scaled wrongly"
        )
    return rgb
