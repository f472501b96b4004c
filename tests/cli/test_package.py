"""The CLI package's shape: small modules, help lists taken from the tables that own the
names, and one entry point under both spellings (`padt-eval`, `python -m padt_eval.cli`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.split_table import splits_for

CLI = Path(__file__).resolve().parents[2] / "padt_eval" / "cli"
REPO = CLI.parents[1]
runner = CliRunner()


def _help(*args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "10000"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_no_cli_module_is_over_300_lines():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in CLI.glob("*.py")}
    assert len(sizes) >= 8, sizes  # a package of modules by kind, not one file
    assert max(sizes.values()) <= 300, sizes


@pytest.mark.parametrize("command, task", [("rec", Task.REC), ("res", Task.REC), ("ovd", Task.OVD), ("ric", Task.RIC)])
def test_split_help_names_every_split_of_the_task(command, task):
    text = _help(command)
    names = list(splits_for(task))
    assert names
    for name in names:
        assert name in text, f"{command} --help does not name split {name}"


def test_split_help_follows_the_split_table(monkeypatch):
    """A split added to the table appears in --help: the list is read from the table, not written out."""
    import importlib

    import padt_eval.cli.options as options
    from padt_eval.data import split_table

    fake = dict(split_table.splits_for(Task.REC))
    fake["refcoco_extra_test_split"] = next(iter(fake.values()))
    monkeypatch.setattr(split_table, "splits_for", lambda task: fake if task == Task.REC else {})
    try:
        reloaded = importlib.reload(options)
        help_text = reloaded.SplitOpt.__metadata__[0].help
        assert "refcoco_extra_test_split" in help_text
    finally:
        monkeypatch.undo()
        importlib.reload(options)


def test_plan_gpu_help_names_every_card():
    from padt_eval.plan.cards import CARDS

    text = _help("plan")
    for name in CARDS:
        assert name in text, f"plan --help does not name card {name}"


def test_fetch_help_names_every_dataset_of_the_catalog():
    """`data fetch`'s NAME list is written out (reading the fetch catalog at every start
    would import the HTTP stack); this keeps it equal to the catalog."""
    from padt_eval.fetch.sources import CATALOG

    text = _help("data", "fetch")
    listed = text.split("Datasets:", 1)[1].split(", or all", 1)[0]
    assert sorted(n.strip() for n in listed.split(",")) == sorted(CATALOG.datasets)


def test_python_dash_m_runs_the_same_app():
    out = subprocess.run(
        [sys.executable, "-m", "padt_eval.cli", "version"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert out.returncode == 0, out.stderr
    from padt_eval import __version__

    assert out.stdout.strip() == __version__
