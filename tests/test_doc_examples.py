"""Every `padt-eval …` command shown in README.md and docs/*.md runs as written, or says why not.

The convention (docs/cli.md, "Examples in the documentation"): a command either runs
against the demo data, or carries a marker `needs: real data`, `needs: gpu` or
`needs: network`: a trailing `# needs: …` comment on its line in a code block, or
`(needs: …)` right after it in running text and tables. A synopsis (UPPERCASE
placeholders, `…`, `[optional]` parts, `a|b` alternatives) describes a command's shape and
is not an example.

How a command is run: in a scratch folder holding `demo_out/` as `padt-eval demo --out
demo_out` writes it (small: 3 images, and the demo's tiny checkpoints), with the data root
(`--data-root`, `/data/…`, PADT_EVAL_DATA) pointed at the demo data and every output folder
(`-o/--out`) at a fresh folder; the Hugging Face ids the docs name resolve offline from a
local cache holding tiny checkpoints of the same family. Nothing else is changed.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"needs:\s*(real data|gpu|network)")
FENCE = re.compile(r"^\s*```")
INLINE = re.compile(r"`(padt-eval [^`]+)`")
# Hub ids the docs use -> the tiny checkpoint standing in for them in the local cache
HUB_STAND_INS = {
    "PaDT-MLLM/PaDT_REC_3B": "padt",
    "PaDT-MLLM/PaDT_OVD_3B": "padt",
    "Qwen/Qwen2.5-VL-3B-Instruct": "qwen2_5_vl",
    "Qwen/Qwen2.5-VL-7B-Instruct": "qwen2_5_vl",
    "omlab/Qwen2.5VL-3B-VLM-R1-REC-500steps": "qwen2_5_vl",
    "OpenGVLab/InternVL3-8B-hf": "internvl",
    "microsoft/kosmos-2-patch14-224": "kosmos2",
    "florence-community/Florence-2-large": "florence2",
}
OUT_FLAGS = ("-o", "--out")


@dataclass(frozen=True)
class Example:
    file: str
    line: int
    command: str
    needs: str | None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def is_synopsis(command: str) -> bool:
    words = command.split()[1:]
    placeholder = any(re.fullmatch(r"[A-Z][A-Z0-9_]*…?", w.strip("[]")) for w in words)
    return placeholder or "…" in command or "[" in command or "|" in command or "rec/res" in command


def extract(path: Path) -> list[Example]:
    out: list[Example] = []
    in_code = False
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        if FENCE.match(line):
            in_code = not in_code
        elif in_code and line.strip().startswith("padt-eval "):
            text = line.strip()
            while text.endswith("\\") and i + 1 < len(lines):  # continued lines
                i += 1
                text = text[:-1] + " " + lines[i].strip()
            command, _, comment = text.partition(" #")
            m = MARKER.search(comment)
            out.append(Example(path.name, number, command.strip(), m.group(1) if m else None))
        elif not in_code:
            for span in INLINE.finditer(line):
                m = MARKER.search(line, span.end(), span.end() + 40)
                out.append(Example(path.name, number, span.group(1).strip(), m.group(1) if m else None))
        i += 1
    return [e for e in out if not is_synopsis(e.command)]


EXAMPLES = [e for doc in DOCS for e in extract(doc)]
# each distinct runnable command once (the docs repeat some, e.g. `padt-eval demo --out demo_out`)
RUNNABLE = list({e.command: e for e in reversed(EXAMPLES) if e.needs is None}.values())[::-1]


def test_the_docs_show_examples_and_the_padt_folder_one_runs():
    assert len(EXAMPLES) >= 40
    assert any("--model demo_out/models/tiny-padt" in e.command for e in RUNNABLE), "the --model <PaDT folder> example must run"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch folder with demo_out/ (demo data, tiny checkpoints) and a local HF cache."""
    from padt_eval.demo.run import DemoPaths, generate
    from padt_eval.demo.tiny_padt import build_tiny_padt
    from padt_eval.models.hf.tiny import build_tiny

    work = tmp_path_factory.mktemp("doc_examples")
    paths = DemoPaths(work / "demo_out")
    generate(paths, n_images=1, seed=1)  # one image: the model examples stay quick
    _score_demo_models(paths)
    models = paths.root / "models"
    built = {"padt": build_tiny_padt(models / "tiny-padt", seed=0)}
    built["qwen2_5_vl"] = build_tiny("qwen2_5_vl", models / "tiny-qwen2_5_vl")
    for family in ("internvl", "kosmos2", "florence2"):
        built[family] = build_tiny(family, work / "stand_ins" / family)
    cache = work / "hf_cache"
    sha = "0" * 40
    for repo_id, family in HUB_STAND_INS.items():
        repo = cache / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(sha)
        shutil.copytree(built[family], repo / "snapshots" / sha, symlinks=False)
        if family != "padt":
            _answer_at_once(repo / "snapshots" / sha)
    return work


def _score_demo_models(paths) -> None:
    """The demo's two REC runs (demo-A, demo-B) in demo_out/results/, where `padt-eval demo`
    puts them, for the examples that read run folders (`compare`)."""
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.data.padt_jsonl import PadtRefcocoJsonlReader
    from padt_eval.demo.data import make_predictions
    from padt_eval.demo.run import DEMO_MODELS, DEMO_SPLIT_NAME
    from padt_eval.options import OutputOptions, PredictionsOptions

    for model in DEMO_MODELS:
        reader = PadtRefcocoJsonlReader(paths.rec_split, paths.images, Task.REC, name=DEMO_SPLIT_NAME)
        preds = paths.predictions.with_name(f"{model.stem}.jsonl")
        make_predictions(reader, preds, seed=1 + model.seed_offset)
        out = OutputOptions(paths.results / f"rec-{DEMO_SPLIT_NAME}-{model.stem}", model.name)  # as the demo names them
        api.score(Task.REC, DEMO_SPLIT_NAME, PredictionsOptions(preds), reader=reader, output=out)


def _answer_at_once(folder: Path) -> None:
    """Make a transformers stand-in end its answer at the first step (its generation config
    suppresses every token but end-of-sequence), so an example runs in a second instead of
    generating hundreds of random tokens. Loading, prompts, the runner and scoring still run."""
    import json

    cfg_file = folder / "generation_config.json"
    cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
    config = json.loads((folder / "config.json").read_text())
    text = config.get("text_config") or config
    eos = cfg.get("eos_token_id", text.get("eos_token_id"))
    eos = set(eos if isinstance(eos, list) else [eos])
    cfg["suppress_tokens"] = [i for i in range(int(text["vocab_size"])) if i not in eos]
    cfg_file.write_text(json.dumps(cfg))


def substituted(command: str, work: Path, out: Path) -> list[str]:
    """The command's arguments with the data root and output folders replaced, nothing else."""
    data = str(work / "demo_out" / "data")
    args = shlex.split(command)[1:]
    for k, a in enumerate(args):
        if k > 0 and args[k - 1] == "--data-root":
            args[k] = data
        elif a == "/data" or a.startswith("/data/"):
            args[k] = data + a[len("/data") :]
        elif k > 0 and args[k - 1] in OUT_FLAGS:
            args[k] = str(out / Path(a).name)
    return args


@pytest.mark.slow
@pytest.mark.parametrize("example", RUNNABLE, ids=[e.id for e in RUNNABLE])
def test_example_runs(example, workdir, tmp_path, monkeypatch):
    import huggingface_hub.constants
    from typer.testing import CliRunner

    from padt_eval.cli import app

    monkeypatch.chdir(workdir)
    monkeypatch.setenv("PADT_EVAL_DATA", str(workdir / "demo_out" / "data"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(workdir / "hf_cache"))
    args = substituted(example.command, workdir, tmp_path)
    if all(not a.startswith("-") and "/" not in a and "." not in a for a in args) and len(args) <= 2:
        args = [*args, "--help"]  # a bare command name: it must exist
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, f"{example.id}: {example.command}\n{r.output}\n{r.exception!r}"


def test_markers_are_one_of_the_documented_kinds():
    """A `needs:` word outside the three kinds would silently exempt an example."""
    for doc in DOCS:
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for m in re.finditer(r"needs:\s*([a-z ]+)", line):
                assert MARKER.match(m.group(0)), f"{doc.name}:{number}: unknown marker {m.group(0)!r}"
