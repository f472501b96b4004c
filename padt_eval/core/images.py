"""Image paths: confinement to the image root, and lazy opening with clear errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from padt_eval.core.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from padt_eval.core.types import ImageRef


_DRIVE = re.compile(r"^[A-Za-z]:")  # Windows drive paths, absolute or drive-relative


class ImageRoot:
    """An image folder that annotation paths are confined to.

    The root is resolved once; each entry is then checked with string operations only
    (no filesystem calls per sample). A symlink inside the root that points outside it
    can only be detected on the filesystem, so that check happens when the image is
    opened (`open_rgb`), through `ImageRef.root`.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = os.path.realpath(root)
        self._prefix = self.root.rstrip(os.sep) + os.sep

    def join(self, relative: str, *, context: str) -> str:
        """Join `relative` under the root, refusing anything that would leave it.

        Annotation files come from the internet; an entry such as `../../etc/passwd` or an
        absolute path must not make us read files outside the dataset. `context` names
        the file and line for the message.
        """
        if not isinstance(relative, str) or not relative:
            raise DataError(f"{context}: image path must be a non-empty string, got {relative!r}")
        if relative.startswith(("/", "\\")) or _DRIVE.match(relative):
            raise DataError(f"{context}: image path {relative!r} is absolute; only paths inside the image root are allowed")
        parts = relative.replace("\\", "/").split("/")
        if ".." in parts:
            raise DataError(f"{context}: image path {relative!r} leaves the image root ('..' is not allowed)")
        return os.path.join(self.root, *[p for p in parts if p not in ("", ".")])

    def contains(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self._prefix)


def confined_path(image_root: str | Path, relative: str, *, context: str) -> str:
    """One-off form of `ImageRoot(image_root).join(relative)`."""
    return ImageRoot(image_root).join(relative, context=context)


def open_rgb(ref: ImageRef) -> Image.Image:
    """Open an image as RGB, with an error that names the file when it is missing or corrupt."""
    from PIL import Image, UnidentifiedImageError

    if ref.root is not None and not ImageRoot(ref.root).contains(ref.path):
        raise DataError(f"image path {ref.path} resolves to {os.path.realpath(ref.path)}, outside the image root {ref.root}")
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
