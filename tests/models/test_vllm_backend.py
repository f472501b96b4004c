"""The vLLM backend: what can be checked without a GPU, and an end-to-end run when one exists."""

from __future__ import annotations

import importlib.util
import json
import math
import os
from types import SimpleNamespace

import pytest

from padt_eval.core.errors import UsageError
from padt_eval.models.base import get_family
from padt_eval.models.vllm_backend import LAUNCHER_ENV, generated_from_vllm, isolate_gpu


class _ByteTokenizer:
    """ids are character codes: enough to check cutting, alignment and offsets."""

    def decode(self, ids, skip_special_tokens=False, clean_up_tokenization_spaces=False):
        return "".join(chr(i) for i in ids)


def _completion(ids, finish="stop"):
    logprobs = [{t: SimpleNamespace(logprob=-0.1 * (k + 1)), 999: SimpleNamespace(logprob=-9.0)} for k, t in enumerate(ids)]
    return SimpleNamespace(token_ids=tuple(ids), logprobs=logprobs, finish_reason=finish)


def test_completion_is_cut_at_eos_with_aligned_logprobs_and_offsets():
    ids = [ord(c) for c in "[1,2]"] + [7, ord("x")]  # 7 = eos, then a stray token
    gen = generated_from_vllm(_completion(ids), _ByteTokenizer(), eos_ids={7})
    assert gen.text == "[1,2]" and gen.stopped
    assert gen.token_ids == ids[:5] and gen.offsets == [(i, i + 1) for i in range(5)]
    assert gen.logprobs == pytest.approx([-0.1, -0.2, -0.3, -0.4, -0.5])
    assert gen.span_score((1, 4)) == pytest.approx(-0.3)  # tokens "1", ",", "2"


def test_length_cut_is_not_stopped():
    gen = generated_from_vllm(_completion([65, 66], finish="length"), _ByteTokenizer(), eos_ids={7})
    assert not gen.stopped and gen.text == "AB"
    missing = SimpleNamespace(token_ids=(65,), logprobs=None, finish_reason="length")
    assert math.isnan(generated_from_vllm(missing, _ByteTokenizer(), eos_ids=set()).logprobs[0])


def test_backend_choice_is_checked():
    load = get_family("florence2").loader
    with pytest.raises(UsageError, match="--backend must be one of hf, vllm"):
        load("some/model", backend="tgi")
    with pytest.raises(UsageError, match="runs on transformers only"):
        load("some/model", backend="vllm")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_missing_vllm_names_the_install_command():
    with pytest.raises(UsageError, match=r"pip install 'padt-eval\[vllm\]'"):
        get_family("qwen2_5_vl").loader("some/model", backend="vllm", device="cuda:0")


def test_gpu_isolation_and_launcher_variables(monkeypatch):
    with pytest.raises(UsageError, match="needs a GPU"):
        isolate_gpu("cpu")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6")
    for name in LAUNCHER_ENV:
        monkeypatch.setenv(name, "1")
    isolate_gpu("cuda:2")
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "6"
    assert not any(name in os.environ for name in LAUNCHER_ENV)


@pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None or not __import__("torch").cuda.is_available(), reason="needs vllm and a GPU"
)
def test_vllm_equals_transformers_on_a_tiny_qwen(tmp_path, synth_root):
    from padt_eval import api
    from padt_eval.core.types import Task
    from padt_eval.models.hf.tiny import build_tiny
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions

    ckpt = build_tiny("qwen2_5_vl", tmp_path / "qwen", seed=0)
    kw = dict(data=DataOptions(data_root=synth_root), run=RunOptions(1, device="cuda", batch_size=8, loader_workers=0))
    opts = {"max_new_tokens": 24, "dtype": "float32"}
    hf = api.run_model(
        Task.REC, "refcoco_val", ModelOptions(str(ckpt), "qwen2_5_vl", opts), output=OutputOptions(tmp_path / "hf"), **kw
    )
    vl = api.run_model(
        Task.REC,
        "refcoco_val",
        ModelOptions(str(ckpt), "qwen2_5_vl", {**opts, "backend": "vllm"}),
        output=OutputOptions(tmp_path / "vllm"),
        **kw,
    )
    texts = lambda r: [line.split('"text":')[1][:60] for line in (r.out_dir / "predictions.jsonl").read_text().splitlines()]  # noqa: E731
    same = sum(a == b for a, b in zip(texts(hf), texts(vl)))
    assert same >= 0.9 * len(texts(hf)), f"only {same} of {len(texts(hf))} completions agree between transformers and vLLM"


# ---- a fake `vllm` package: proves what is imported and what vLLM would be asked --------

FAKE_VLLM = '''
"""A stand-in for vllm: records the engine's construction and every generate call."""
from types import SimpleNamespace

CALLS = []
ANSWER = []  # token ids every completion returns (set by the test)


class SamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class LLM:
    def __init__(self, **kwargs):
        CALLS.append(("LLM", kwargs))

    def generate(self, prompts, params, use_tqdm=True):
        prompts = list(prompts)
        CALLS.append(("generate", prompts, params))
        out = []
        for _ in prompts:
            lp = [{t: SimpleNamespace(logprob=-0.25)} for t in ANSWER]
            out.append(SimpleNamespace(outputs=[SimpleNamespace(token_ids=tuple(ANSWER), logprobs=lp, finish_reason="stop")]))
        return out
'''


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    (tmp_path / "fake" / "vllm").mkdir(parents=True)
    (tmp_path / "fake" / "vllm" / "__init__.py").write_text(FAKE_VLLM)
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    import sys

    sys.modules.pop("vllm", None)
    yield tmp_path / "fake"
    sys.modules.pop("vllm", None)


def test_importing_every_family_module_leaves_vllm_unimported(fake_vllm):
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        "import vllm.__init__ as probe; assert probe.CALLS == []\n"  # the fake is what `import vllm` would find
        "del sys.modules['vllm'], sys.modules['vllm.__init__']\n"
        "from padt_eval.models import base\n"
        "fams = base.families()\n"
        "for m in base._BUILTIN_FAMILY_MODULES + ['padt_eval.models.hf.adapter', 'padt_eval.models.hf.qwen', 'padt_eval.models.hf.internvl',"
        " 'padt_eval.models.hf.kosmos2', 'padt_eval.models.hf.florence2', 'padt_eval.models.vllm_backend', 'padt_eval.models.loading']:\n"
        "    importlib.import_module(m)\n"
        "print(len(fams), 'vllm' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake_vllm), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    n, imported = r.stdout.split()
    assert int(n) > 10 and imported == "False"


def _vllm_adapter(tiny, monkeypatch, **options):
    import vllm

    from padt_eval.models import vllm_backend

    monkeypatch.setattr(vllm_backend, "isolate_gpu", lambda device: None)  # no GPU here; tested above
    adapter = get_family("qwen2_5_vl").loader(
        str(tiny("qwen2_5_vl")), backend="vllm", device="cuda:0", max_new_tokens=24, **options
    )
    tok = adapter.tokenizer
    vllm.ANSWER[:] = tok.encode('[{"bbox_2d": [10, 20, 30, 40]}]', add_special_tokens=False) + [
        tok.convert_tokens_to_ids(tok.eos_token)
    ]
    return adapter, vllm


def test_one_generate_call_for_a_whole_shard_window(tiny, fake_vllm, monkeypatch, synth_root, tmp_path):
    from padt_eval.models import loading
    from padt_eval.options import DataOptions, ModelOptions, RunOptions
    from padt_eval.runner.job import RunJob
    from padt_eval.runner.plan import read_plan
    from padt_eval.runner.worker import run_rank

    made = []
    monkeypatch.setattr(
        loading, "load_model", lambda *a, **k: made.append(_vllm_adapter(tiny, monkeypatch, window=4096)) or made[-1][0]
    )
    job = RunJob(
        task="rec",
        split="refcoco_val",
        model=ModelOptions("qwen-tiny", "qwen2_5_vl"),
        out_dir=tmp_path / "run",
        data=DataOptions(data_root=str(synth_root)),
        run=RunOptions(batch_size=8, loader_workers=0),
    )
    (tmp_path / "run").mkdir()
    summary = run_rank(job)
    adapter, vllm = made[0]
    n = len(read_plan(tmp_path / "run", summary["attempt"], 0))
    assert summary["samples"] == n > 8  # more than one -b batch ...
    generates = [c for c in vllm.CALLS if c[0] == "generate"]
    assert len(generates) == 1 and len(generates[0][1]) == n  # ... and still one generate call for the shard
    prompts, params = generates[0][1], generates[0][2].kwargs
    assert all("<|vision_start|>" in p["prompt"] and "detect the object" in p["prompt"] for p in prompts)
    assert all(p["multi_modal_data"]["image"].mode == "RGB" for p in prompts)
    assert params == dict(
        temperature=0.0,
        max_tokens=24,
        logprobs=0,
        repetition_penalty=adapter.backend.repetition_penalty,
        stop_token_ids=sorted(adapter.eos_ids),
        skip_special_tokens=False,
        detokenize=False,
        seed=0,
    )
    shard = [
        json.loads(line) for f in (tmp_path / "run").rglob("*.jsonl") if "rank" in f.name for line in f.read_text().splitlines()
    ]
    assert len(shard) == n and all(p["parse_status"] == "ok" and len(p["objects"]) == 1 for p in shard)
    assert all(p["objects"][0]["score"] == pytest.approx(-0.25) for p in shard)  # vLLM's log-probabilities, per box


def test_windows_overlap_decoding_with_the_next_generate_call(tiny, fake_vllm, monkeypatch, demo_split):
    import threading

    from PIL import Image

    from padt_eval.core.types import ImageRef, ModelRequest, Task

    adapter, vllm = _vllm_adapter(tiny, monkeypatch, window=3)
    assert adapter.window == 3
    finished_on = []
    finish = adapter.backend.finish
    monkeypatch.setattr(
        adapter.backend, "finish", lambda a, raw: finished_on.append(threading.current_thread().name) or finish(a, raw)
    )
    paths = sorted(demo_split.images.iterdir())[:3]
    reqs = [
        ModelRequest(f"s{i}", Task.REC, ImageRef(str(p), *Image.open(p).size), prompt=f"Locate thing {i}.")
        for i, p in enumerate(paths * 3)
    ]
    windows = [reqs[0:3], reqs[3:6], reqs[6:9]]
    prep = adapter.preprocessor()
    stream = adapter.predict_stream((w, [prep(r) for r in w]) for w in windows)
    first_requests, first = next(stream)
    # Window 1 was already handed to vLLM before window 0's predictions came back.
    assert first_requests == windows[0] and sum(c[0] == "generate" for c in vllm.CALLS) == 2
    rest = list(stream)
    assert [r for r, _ in rest] == windows[1:]
    assert [p.sample_id for _, ps in [(first_requests, first), *rest] for p in ps] == [r.sample_id for r in reqs]
    assert [len(c[1]) for c in vllm.CALLS if c[0] == "generate"] == [3, 3, 3]
    assert finished_on == ["padt-eval-finish_0"] * 3  # decoding and parsing ran off the calling thread
    assert all(p.objects and p.parse_status.value == "ok" for _, ps in [(first_requests, first), *rest] for p in ps)
    d = adapter.describe()
    assert (
        d["backend"] == "vllm" and d["vllm_window"] == 3 and d["family"] == "qwen2_5_vl" and d["prompt_key"] == "qwen2_5_vl:paper"
    )
    assert d["generation"]["repetition_penalty_counts"].startswith("vLLM")
