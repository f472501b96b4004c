"""Where derived files (normalised split caches) live: `padt_eval.fileio.cache_dir`."""

from padt_eval.fileio import cache_dir

__all__ = ["cache_dir"]
