"""Shared test configuration and fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from padt_eval.core.family_modules import add_family_module

# Never reach a model hub from tests.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The demo's colour-finder family, as the CLI lists it (tests call the API without the CLI).
add_family_module("padt_eval.demo.colour_finder")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The reports tests registered in tests/run_summary.py (e.g. PaDT parity's per-tensor
    differences), printed after every test ran."""
    from tests import run_summary

    run_summary.write(terminalreporter, full=config.getoption("capture") == "no" or config.getoption("verbose") > 0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Split caches go to a per-session temporary folder, never to ~/.cache."""
    monkeypatch.setenv("PADT_EVAL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    # the unwritable-cache warning is printed once a run; each test is a run of its own
    monkeypatch.setenv("PADT_EVAL_CACHE_WARNED", "")


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A data root with 12 synthetic images in both RefCOCO layouts (split 'val' and 'testA')."""
    from padt_eval.demo.synthetic import make_world, write_images, write_padt_jsonl, write_refer

    root = tmp_path_factory.mktemp("synth")
    world = make_world(12, seed=5)
    write_images(world, root / "coco" / "train2014")
    write_padt_jsonl(world, root / "PaDT-MLLM" / "RefCOCO" / "refcoco_val.json")
    write_refer(world, root / "refcoco", split_of=lambda image_id: "val")
    return root


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory) -> Path:
    """A data root with 10 synthetic images in COCO val2017 layout (official instances file)
    and in PaDT's RIC JSONL layout."""
    from padt_eval.demo.synthetic import as_val2017, make_world, write_coco_instances, write_images, write_ric_jsonl

    root = tmp_path_factory.mktemp("cocoval")
    world = as_val2017(make_world(10, seed=9, first_image_id=500))
    write_images(world, root / "coco" / "val2017")
    write_coco_instances(world, root / "coco" / "annotations" / "instances_val2017.json")
    write_ric_jsonl(world, root / "PaDT-MLLM" / "ReferringImageCaptioning" / "ric_instances_val2017.json")
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random PaDT checkpoint built by our own code (untied, seed 0)."""
    from padt_eval.demo.tiny_padt import build_tiny_padt

    return build_tiny_padt(tmp_path_factory.mktemp("padt_tiny") / "untied", seed=0)
