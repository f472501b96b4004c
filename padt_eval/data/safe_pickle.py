"""Loading the refer API's `refs(*).p` pickles without letting them run code.

A pickle can call any importable function while loading (`os.system` is one REDUCE
away), and these files come from the internet. The refs files only hold lists, dicts,
strings and numbers, which the pickle opcodes build without importing anything, so this
unpickler refuses every global except the two harmless set constructors Python 2
pickles use.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from padt_eval.core.errors import DataError

_ALLOWED = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("__builtin__", "set"),
    ("__builtin__", "frozenset"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding="utf-8")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise DataError(
            f"{self._source}: refused to load global '{module}.{name}' from this pickle; "
            "a refs file may only hold lists, dicts, strings and numbers (the file may be corrupt or hostile)"
        )


def load_restricted(path: str | Path) -> Any:
    """Unpickle `path` admitting only builtin containers and scalars."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, source).load()
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"refs file not found: {source}") from None
    except Exception as exc:  # a truncated or non-pickle file raises many kinds of errors
        raise DataError(f"{source}: not a readable refs pickle ({type(exc).__name__}: {exc})") from None
