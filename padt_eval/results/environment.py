"""The facts a manifest records about the process that scored a run: package versions,
git state, platform, accelerator, times and input file hashes.

Package versions are read from installed metadata (no heavy imports), the git state is
that of the padt-eval checkout the code runs from, and every input file is hashed.
"""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from padt_eval import __version__
from padt_eval.core.fileio import sha256_file

TRACKED_PACKAGES = (
    "torch",
    "torchvision",
    "transformers",
    "tokenizers",
    "numpy",
    "pycocotools",
    "faster-coco-eval",
    "pycocoevalcap",
    "pillow",
    "qwen-vl-utils",
    "vllm",
    "flash-attn",
)


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version(), "padt-eval": __version__}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def accelerator_info() -> dict[str, Any] | None:
    """CUDA version, driver and GPU models, when torch is already loaded (a model run).

    Scoring a predictions file never imports torch just to say it used no GPU."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    # torch's intra-op thread count changes how CPU matmuls split their reductions, and so
    # the last bits of bf16/fp16 CPU results: a CPU run is only reproducible with it known.
    info: dict[str, Any] = {
        "cuda": getattr(torch.version, "cuda", None),
        "cudnn": None,
        "gpus": [],
        "cpu_threads": torch.get_num_threads(),
    }
    try:
        if torch.cuda.is_available():
            info["cudnn"] = torch.backends.cudnn.version()
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["driver"] = _nvidia_driver()
    except Exception as exc:  # a broken CUDA setup must not lose a run's results
        info["error"] = str(exc)
    return info


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def git_state(path: Path | None = None) -> dict[str, Any]:
    """SHA and dirty flag of the checkout holding the padt_eval package (None outside git)."""
    where = path or Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        )
        return {"sha": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def file_hashes(paths: list[str | Path]) -> dict[str, str]:
    return {str(p): sha256_file(p) for p in paths}


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
