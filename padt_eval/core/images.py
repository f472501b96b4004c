"""Image paths: confinement to the image root, and lazy opening with clear errors."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from padt_eval.core.errors import DataError
from padt_eval.core.filekind import file_kind

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


#: Images larger than these are refused with a per-sample error naming the file, before
#: any pixel is decoded: a 30000x30000 PNG (a decompression bomb) is ~100 KB on disk and
#: 2.7 GB decoded. The defaults pass every image of the supported datasets by far (COCO's
#: largest is 640 px a side); raise them with these environment variables.
MAX_PIXELS_ENV = "PADT_EVAL_MAX_IMAGE_PIXELS"
MAX_BYTES_ENV = "PADT_EVAL_MAX_IMAGE_BYTES"
DEFAULT_MAX_PIXELS = 100_000_000  # 10,000 x 10,000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def image_limits() -> tuple[int, int]:
    """(max pixels, max bytes) in force: the environment's, else the defaults."""

    def read(name: str, default: int) -> int:
        raw = os.environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw)
        except ValueError:
            raise DataError(f"${name} must be a whole number, got {raw!r}") from None
        if value <= 0:
            raise DataError(f"${name} must be positive, got {value}")
        return value

    return read(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS), read(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)


def check_image_file(path: str) -> None:
    """Refuse, without opening it, a path that is not a regular file (a FIFO would block
    forever, a device never ends) or whose size is over the byte limit."""
    kind = file_kind(path)
    if kind == "missing":
        raise DataError(f"image not found: {path}")
    if kind is not None:
        raise DataError(f"image {path} is {kind}, not a regular file; not opened")
    max_bytes = image_limits()[1]
    size = os.path.getsize(path)
    if size > max_bytes:
        raise DataError(f"image {path} is {size:,} bytes, over the limit of {max_bytes:,} (${MAX_BYTES_ENV})")


def open_rgb(ref: ImageRef) -> Image.Image:
    """Open an image as RGB, with an error that names the file when it is missing, corrupt,
    not a regular file, or over the size limits (`image_limits`)."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    if ref.root is not None and not ImageRoot(ref.root).contains(ref.path):
        raise DataError(f"image path {ref.path} resolves to {os.path.realpath(ref.path)}, outside the image root {ref.root}")
    check_image_file(ref.path)
    max_pixels = image_limits()[0]
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns, then raises, at its fixed limits; ours is below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(ref.path) as im:
                w, h = im.size  # read from the header: nothing decoded yet
                if w * h > max_pixels:
                    raise DataError(_too_many_pixels(ref.path, f"{w}x{h} = {w * h:,} pixels", max_pixels))
                im.load()
                rgb = im.convert("RGB")
    except Image.DecompressionBombError as exc:  # Pillow's own limit (2x its warning size) hit first
        raise DataError(_too_many_pixels(ref.path, f"a decompression bomb ({exc})", max_pixels)) from None
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


def _too_many_pixels(path: str, what: str, limit: int) -> str:
    return f"image {path} is {what}, over the limit of {limit:,} pixels (${MAX_PIXELS_ENV}); not decoded"
