"""The adapter tests need torch and transformers (fixtures live in tests/models/conftest.py)."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(autouse=True)
def _threads(_one_torch_thread):
    """Every adapter test runs with one torch thread (see `_one_torch_thread`)."""
