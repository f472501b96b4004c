"""Where derived files (normalised split caches) live."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$PADT_EVAL_CACHE`, else `$XDG_CACHE_HOME/padt-eval`, else `~/.cache/padt-eval`."""
    env = os.environ.get("PADT_EVAL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "padt-eval"
