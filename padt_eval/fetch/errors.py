"""The one error a fetch raises: a message that names the URL or file, exit code 2."""

from __future__ import annotations

from padt_eval.core.errors import DataError


class FetchError(DataError):
    """A download, a checksum, an archive or the disk refused the fetch."""
