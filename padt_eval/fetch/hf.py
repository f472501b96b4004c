"""Hugging Face dataset files: resolved through `huggingface_hub`, fetched by our resumable download.

`huggingface_hub` finds the file: the endpoint (`HF_ENDPOINT`, read when the fetch runs),
the token (`HF_TOKEN` or a stored login), offline mode (`HF_HUB_OFFLINE`), and the file's
size, commit and checksum (the SHA-256 of an LFS/Xet file, or the git blob SHA-1 of a small
one). The bytes then come through `http.download`, because the hub client's own downloader
starts over after an interrupted process, and this suite promises resumption. The token
goes to the Hub only, never to the storage host the Hub redirects to.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from padt_eval.fetch.errors import FetchError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class HubFile:
    url: str  # the resolve URL (at a commit when the Hub told us one)
    size: int | None
    sha256: str | None
    git_sha1: str | None
    commit: str | None
    auth_header: str | None
    endpoint: str


def _truthy(v: str | None) -> bool:
    return (v or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as set now; else what huggingface_hub read at import."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var):
            return _truthy(os.environ[var])
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _network_exceptions() -> tuple[type[BaseException], ...]:
    """Connection and timeout errors of whichever HTTP client this huggingface_hub uses."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for mod, names in (
        ("httpx2", ("ConnectError", "TimeoutException")),
        ("httpx", ("ConnectError", "TimeoutException")),
        ("requests", ("ConnectionError", "Timeout")),
    ):
        try:
            m = __import__(mod)
        except ImportError:
            continue
        found += [getattr(m, n) for n in names if hasattr(m, n)]
    return tuple(found)


def _offline_error(where: str) -> FetchError:
    return FetchError(
        f"offline mode is on (HF_HUB_OFFLINE), so {where} cannot be downloaded; "
        "unset HF_HUB_OFFLINE, or copy the file into place by hand"
    )


def resolve(repo_id: str, filename: str, revision: str = "main") -> HubFile:
    """Ask the Hub (HEAD) what `filename` of dataset `repo_id` is at `revision`."""
    where = f"hf://datasets/{repo_id}/{filename}"
    if offline():
        raise _offline_error(where)
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    GatedRepoError = hf_errors.GatedRepoError
    HfHubHTTPError = hf_errors.HfHubHTTPError
    OfflineModeIsEnabled = hf_errors.OfflineModeIsEnabled
    RepositoryNotFoundError = hf_errors.RepositoryNotFoundError
    RevisionNotFoundError = hf_errors.RevisionNotFoundError
    # huggingface_hub < 1.0 calls it EntryNotFoundError
    RemoteEntryNotFoundError = getattr(hf_errors, "RemoteEntryNotFoundError", None) or hf_errors.EntryNotFoundError

    ep = endpoint()
    url = hf_hub_url(repo_id, filename, repo_type="dataset", revision=revision, endpoint=ep)
    try:
        meta = get_hf_file_metadata(url, endpoint=ep)
    except OfflineModeIsEnabled:
        raise _offline_error(where) from None
    except GatedRepoError:
        raise FetchError(
            f"{where} is gated: accept its terms at {ep}/datasets/{repo_id} and set HF_TOKEN (or `hf auth login`)"
        ) from None
    except RepositoryNotFoundError:
        raise FetchError(
            f"dataset repo {repo_id} not found at {ep} (HTTP 404 for {url}); if it is private, set HF_TOKEN"
        ) from None
    except RevisionNotFoundError:
        raise FetchError(f"revision {revision!r} of dataset {repo_id} not found (HTTP 404 for {url})") from None
    except RemoteEntryNotFoundError:
        raise FetchError(f"file {filename} not found in dataset {repo_id} (HTTP 404 for {url})") from None
    except HfHubHTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        raise FetchError(f"HTTP {code} from the Hub for {url}: {str(exc).splitlines()[0]}") from None
    except _network_exceptions() as exc:
        raise FetchError(f"cannot reach the Hugging Face Hub at {ep} (no network?) while fetching {url}: {exc}") from None
    etag = (meta.etag or "").strip('"').lower()
    commit = meta.commit_hash
    if commit and re.fullmatch(r"[0-9a-f]{40}", commit):
        url = hf_hub_url(repo_id, filename, repo_type="dataset", revision=commit, endpoint=ep)
    auth = build_hf_headers().get("authorization")
    return HubFile(
        url=url,
        size=meta.size,
        sha256=etag if _SHA256.match(etag) else None,
        git_sha1=etag if _SHA1.match(etag) and meta.size is not None else None,
        commit=commit,
        auth_header=auth,
        endpoint=ep,
    )
