"""Every CLI command with bracketed and non-ASCII names: what the user gave, and what the
data holds, is printed as it is (no rich markup, no line broken inside a path), and no
command crashes on it."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from padt_eval import __version__
from padt_eval.cli import app
from padt_eval.core.types import Task
from padt_eval.data.registry import open_split
from padt_eval.demo.data import make_predictions

runner = CliRunner()

# Names rich would read as markup ([bold], [/], [v2]) or mangle (non-ASCII).
ODD = "ü [bold]x[/bold] [v2]"
MODEL_A = "[bold]Model ü[/bold]"
MODEL_B = "[v2] Modèle [/] B"
BAD_ID = "[/]"  # a sample id that crashed the CLI with a MarkupError


def _ok(r, *expected: str) -> None:
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "MarkupError" not in r.output
    for text in expected:
        assert text in r.output, f"{text!r} not printed verbatim in:\n{r.output}"


@pytest.fixture(scope="module")
def odd(synth_root, coco_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("verbatim") / f"data {ODD}"
    shutil.copytree(synth_root, base / "ref")
    shutil.copytree(coco_root, base / "coco")
    preds = base / f"preds {ODD}.jsonl"
    make_predictions(open_split("refcoco_val", Task.REC, data_root=base / "ref"), preds, seed=3)
    lines = preds.read_text().splitlines()
    first = json.loads(lines[0])
    first["objects"] = [{"bbox": [1, 2, 3]}]  # a message with brackets in it
    lines[0] = json.dumps(first)
    lines.append(json.dumps({"sample_id": BAD_ID, "objects": []}))
    preds.write_text("\n".join(lines) + "\n")
    return base, preds, first["sample_id"]


@pytest.fixture(scope="module")
def scored(odd):
    base, preds, _ = odd
    results = base / "results [v2]"
    outs = {}
    for task, name in (("rec", MODEL_A), ("res", MODEL_A), ("rec", MODEL_B)):
        out = results / f"{task} {name}".replace("/", "-")
        r = runner.invoke(
            app, [task, "-s", "refcoco_val", "--data-root", str(base / "ref"), "-p", str(preds), "-o", str(out), "--name", name]
        )
        outs[(task, name)] = (out, r)
    return results, outs


def test_scoring_prints_paths_ids_and_messages_verbatim(odd, scored):
    _, preds, first_id = odd
    _, outs = scored
    for (_task, name), (out, r) in outs.items():
        _ok(
            r,
            f"results written to {out}",
            f"{preds}:1: objects[0].bbox must be four finite numbers [x1, y1, x2, y2], got [1, 2, 3]",
            f"sample_id '{BAD_ID}' is not in the split",
        )
        assert json.loads((out / "metrics.json").read_text())["model"]["name"] == name


def test_ovd_and_ric(odd, tmp_path):
    from padt_eval.demo.ovd_ric import make_ovd_predictions, make_ric_predictions
    from padt_eval.demo.synthetic import as_val2017, make_world

    base, _, _ = odd
    world = as_val2017(make_world(10, seed=9, first_image_id=500))
    ovd = tmp_path / f"ovd {ODD}.jsonl"
    make_ovd_predictions(world, base / "coco" / "coco" / "annotations" / "instances_val2017.json", ovd, seed=1)
    with open(ovd, "a") as f:
        f.write(json.dumps({"sample_id": BAD_ID, "objects": []}) + "\n")
    out = tmp_path / f"ovd run {ODD}"
    r = runner.invoke(app, ["ovd", "--data-root", str(base / "coco"), "-p", str(ovd), "-o", str(out)])
    _ok(r, f"results written to {out}", f"sample_id '{BAD_ID}' is not in the split")
    if shutil.which("java") is None:
        pytest.skip("RIC needs Java")
    ric = tmp_path / f"ric {ODD}.jsonl"
    make_ric_predictions(world, ric, seed=1)
    out = tmp_path / f"ric run {ODD}"
    r = runner.invoke(app, ["ric", "--data-root", str(base / "coco"), "-p", str(ric), "-o", str(out)])
    _ok(r, f"results written to {out}")
    assert "PTBTokenizer" not in r.output  # the Java tool's chatter goes to the run's log


def test_compare_leaderboard_report(scored, tmp_path):
    results, outs = scored
    (a, _), (b, _) = outs[("rec", MODEL_A)], outs[("rec", MODEL_B)]
    r = runner.invoke(app, ["compare", str(a), str(b), "--resamples", "200"])
    _ok(r, MODEL_A, MODEL_B, "written to ")
    r = runner.invoke(app, ["leaderboard", "--results", str(results), "--out", str(tmp_path / f"board {ODD}")])
    _ok(r, MODEL_A, MODEL_B, f"written {tmp_path / f'board {ODD}' / 'leaderboard.md'}")
    r = runner.invoke(app, ["report", str(a)])
    _ok(r, f"written {a / 'report.html'}")


def test_data_listing_commands(odd):
    base, _, _ = odd
    r = runner.invoke(app, ["splits", "--data-root", str(base / "ref")])
    _ok(r, f"splits under {(base / 'ref').resolve()}", "refcoco_val")
    r = runner.invoke(app, ["data", "status", "--data-root", str(base / "ref")])
    _ok(r, f"data under {(base / 'ref').resolve()}", f"--to {base / 'ref'}")
    r = runner.invoke(app, ["data", "sources"])
    _ok(r, "refcoco")
    r = runner.invoke(app, ["data", "fetch", f"refcoco{ODD}", "--to", str(base / "ref")])
    assert r.exit_code == 2 and f"unknown dataset 'refcoco{ODD}'" in r.output
    r = runner.invoke(app, ["data", "fetch", "refcocoo", "--to", str(base / "ref")])
    assert r.exit_code == 2 and "unknown dataset 'refcocoo' (did you mean 'refcoco'?)" in r.output
    r = runner.invoke(app, ["rec", "-s", f"refcoco_va{ODD}", "-p", "x.jsonl"])
    assert r.exit_code == 2 and f"unknown split 'refcoco_va{ODD}'" in r.output


def test_models_and_version():
    from padt_eval.models.base import families

    r = runner.invoke(app, ["models", "-v"])
    syntaxes = [f.output_format for f in families().values() if "[" in f.output_format]
    assert syntaxes  # some box syntaxes have brackets: they must survive
    _ok(r, *syntaxes)
    _ok(runner.invoke(app, ["version"]), __version__)
    _ok(runner.invoke(app, ["--version"]), __version__)


def test_model_run_and_check_batching(odd, tmp_path):
    base, _, _ = odd
    out = tmp_path / f"run {ODD}"
    r = runner.invoke(
        app,
        [
            "res",
            "-s",
            "refcoco_val",
            "--data-root",
            str(base / "ref"),
            "--model",
            "colour-finder",
            "-o",
            str(out),
            "--device",
            "cpu",
            "--loader-workers",
            "0",
        ],
    )
    _ok(r, f"results written to {out}")
    r = runner.invoke(
        app,
        [
            "check-batching",
            "-s",
            "refcoco_val",
            "--data-root",
            str(base / "ref"),
            "--model",
            "colour-finder",
            "-n",
            "4",
            "-b",
            "2",
            "--device",
            "cpu",
        ],
    )
    _ok(r, "no drift: 0 of 4 answers change between batch 1 and batch 2")


def test_demo(tmp_path):
    out = tmp_path / f"demo {ODD}"
    r = runner.invoke(app, ["demo", "--out", str(out), "--n-images", "4", "--no-models"])
    _ok(
        r,
        f"results written to {out / 'results'}",
        f"results:     {out / 'results'}",
        f"padt-eval leaderboard --results '{out / 'results'}'",
    )
    assert "PTBTokenizer" not in r.output


def test_printers_keep_bracketed_text():
    """Each printer of report.console, fed bracketed text, prints it unchanged."""
    import io

    from rich.console import Console

    from padt_eval.report import console as con
    from padt_eval.report.tables import Cell, Column, Row, Table

    buf = io.StringIO()
    c = Console(file=buf, markup=False, width=10_000, soft_wrap=True)
    c.print(con.labelled("note", f"id {BAD_ID} at [x1, y1]"))
    con.print_table(c, con.metrics_table(f"REC on {ODD}", {"acc@0.5": 0.5, f"{ODD}": 0.25}, {"acc@0.5": 0.5}))
    for line in con.problems_lines({"problems": {"malformed": 1}, "first_problems": [f"f.jsonl:1: got [1, 2, 3] for {BAD_ID}"]}):
        c.print(line)
    t = Table(
        "rec",
        f"REC {ODD}",
        "",
        [Column("model", "Model"), Column("v", "v", numeric=True)],
        [Row({"model": Cell(MODEL_A), "v": Cell("1.0")})],
    )
    con.print_table(c, con.rich_table(t))
    with con.progress_bar(c, f"RES {ODD}") as (start, advance):
        start(1)
        advance(1)
    text = buf.getvalue()
    for expected in (
        f"note: id {BAD_ID} at [x1, y1]",
        f"REC on {ODD}",
        ODD,
        f"got [1, 2, 3] for {BAD_ID}",
        f"REC {ODD}",
        MODEL_A,
        f"RES {ODD}",
    ):
        assert expected in text, expected
