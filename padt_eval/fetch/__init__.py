"""Fetch RefCOCO/+/g, COCO val2017 and RIC into the data root: resumable, verified, idempotent.

`fetch(names, root, annotations)` downloads and unpacks; `status(root)` says what is there.
The sources (URLs, Hugging Face ids, sizes, checksums) are in `sources.py`.
"""

from padt_eval.fetch.errors import FetchError
from padt_eval.fetch.fetcher import Outcome, fetch
from padt_eval.fetch.sources import ANNOTATION_CHOICES, CATALOG, DATASETS, SOURCES, Catalog
from padt_eval.fetch.status import StatusRow, status

__all__ = [
    "ANNOTATION_CHOICES",
    "CATALOG",
    "DATASETS",
    "SOURCES",
    "Catalog",
    "FetchError",
    "Outcome",
    "StatusRow",
    "fetch",
    "status",
]
