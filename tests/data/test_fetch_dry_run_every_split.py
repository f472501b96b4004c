"""`data fetch --dry-run` names, for every split of the split table, where each file its reader
needs comes from: a source that installs it (or the folder holding it), or a note saying
where to put what must be fetched by hand (ReasonSeg's test.zip). The issue's must-show for
the benchmarks beyond the paper, held for every split, the new ones included."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.data.split_table import SPLITS

NEW_DATASETS = {"grefcoco", "ref_l4", "refcoco-m", "reasonseg"}


def _covered(path: str, places: set[str]) -> bool:
    """`path` (a file or folder under the data root) is installed, or lies in a folder that is."""
    path = path.rstrip("/")
    return any(path == p or path.startswith(p + "/") or p.startswith(path + "/") for p in places)


@pytest.mark.parametrize("name", sorted(SPLITS), ids=str)
def test_the_dry_run_says_where_every_file_of_the_split_comes_from(name, tmp_path):
    spec = SPLITS[name]
    r = CliRunner().invoke(app, ["data", "fetch", *spec.fetch_names, "--dry-run", "--to", str(tmp_path)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # a long note is wrapped by the console
    places = set(re.findall(r"<data-root>/(\S+?)[:,;)]?(?:\s|$)", text))
    assert places, r.output
    # some layout of the split has every file it reads covered (the first one a fetch writes)
    assert any(all(any(_covered(c, places) for c in cands) for cands in layout.files) for layout in spec.layouts), (
        name,
        sorted(places),
    )
    assert any(_covered(c, places) for c in spec.images.candidates), (name, spec.images.candidates, sorted(places))


def test_every_new_benchmark_split_is_named_in_its_docs_page():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "benchmarks.md").read_text()
    headings = [line for line in doc.splitlines() if line.startswith("#")]
    for name, spec in SPLITS.items():
        if spec.cleaner_of is not None and name.endswith("_cleaned"):
            # the 8 cleaned splits share one section, named by their pattern
            assert any("`<split>_cleaned`" in h for h in headings) and name == f"{spec.cleaner_of}_cleaned"
        elif spec.dataset in NEW_DATASETS:
            assert f"`{name}`" in doc, f"docs/benchmarks.md does not name {name}"
