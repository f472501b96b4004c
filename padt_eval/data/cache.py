"""Where derived files (normalised split caches) live: `padt_eval.core.fileio.cache_dir`."""

from padt_eval.core.fileio import cache_dir

__all__ = ["cache_dir"]
