"""`padt-eval plan` and `-b auto`: every number checked against an independent computation.

* the tracker against a real CPU model (bytes of what it holds, computed by hand);
* the plan's weights against parameter count x dtype size, its KV cache against
  2 x layers x KV heads x head dim x positions x batch x dtype size from config.json;
* the batch search against the measured peaks of the batches it names;
* `-b auto` on the CPU: the fallback line, and both values recorded.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from typer.testing import CliRunner  # noqa: E402

from padt_eval.core.types import Task  # noqa: E402
from padt_eval.plan import cards  # noqa: E402
from padt_eval.plan.planner import Session, batch_shape, largest_batch, model_files  # noqa: E402
from padt_eval.plan.tracker import MemoryTracker  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "fixtures" / "padt_tiny" / "checkpoint"
CONFIGS = REPO / "tests" / "fixtures" / "configs"
BF16 = 2


# -- the tracker on a real CPU model ------------------------------------------------------------
def test_tracker_counts_what_a_real_cpu_module_holds_and_frees():
    tracker = MemoryTracker(device_type="cpu")
    with tracker:
        model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.LayerNorm(32), torch.nn.Embedding(100, 16))
    by_hand = (64 * 32 + 32) * 4 + (32 + 32) * 4 + 100 * 16 * 4  # Linear W+b, LayerNorm w+b, Embedding, float32
    assert tracker.current == by_hand
    with tracker:
        x = torch.empty(1000, dtype=torch.float64)
        y = x[10:20]  # a view: no new storage
        assert tracker.current == by_hand + 8000
        del x
        assert tracker.current == by_hand + 8000  # the view keeps the storage alive
        del y
        gc.collect()
    assert tracker.current == by_hand
    assert tracker.peak == by_hand + 8000
    del model
    gc.collect()
    assert tracker.current == 0


def test_tracker_counts_a_real_tiny_padt_model_as_its_parameters_and_buffers():
    from padt_eval.models.padt.config import load_config
    from padt_eval.models.padt.model import PadtModel

    tracker = MemoryTracker(device_type="cpu")
    with tracker:
        model = PadtModel(load_config(TINY))
    storages = {}
    for t in [*model.parameters(), *model.buffers()]:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    assert tracker.current == sum(storages.values())
    assert tracker.live_split()["activations"] == tracker.current  # nothing marked yet


# -- the plan at a released shape -------------------------------------------------------------------
@pytest.fixture(scope="module")
def padt3b():
    """PaDT-3B (released config.json), bf16, batch 2, 128 new tokens, REC: one measured batch."""
    config, folder = model_files(str(CONFIGS / "padt_rec_3b.json"))
    shape, _ = batch_shape(config, folder, "padt", Task.REC, 2, 128, None)
    from padt_eval.models.padt.fake_run import build_fake_padt

    _, _, model = build_fake_padt(config, "bfloat16")
    text_params = sum(p.numel() for p in model.language_model.parameters())
    del model
    session = Session(config, "padt", "bfloat16", shape)
    measured = session.measure(2)
    yield config, shape, session.parameters, text_params, measured


@pytest.mark.slow
def test_plan_weights_are_parameter_count_times_dtype_size(padt3b):
    config, _, parameters, text_params, m = padt3b
    assert m.parts["weights"] == parameters * BF16
    # the text model's parameter count from config.json alone (Qwen2 layers: q/k/v with biases)
    d, inter, layers, vocab = (
        config["hidden_size"],
        config["intermediate_size"],
        config["num_hidden_layers"],
        config["vocab_size"],
    )
    kv = config["num_key_value_heads"] * d // config["num_attention_heads"]
    per_layer = (d * d + d) + 2 * (d * kv + kv) + d * d + 3 * d * inter + 2 * d
    assert text_params == vocab * d + layers * per_layer + d


@pytest.mark.slow
def test_plan_kv_cache_is_two_layers_heads_dim_positions_batch_bytes(padt3b):
    config, shape, _, _, m = padt3b
    head_dim = config["hidden_size"] // config["num_attention_heads"]
    # the harness's prompt: the image's tokens, the text, the template, +2 on the longest row
    prompt = shape.image_tokens + max(1, shape.text_tokens - 10) + 10 + 1
    positions = -(-(prompt + 128) // 128) * 128  # the static cache's 128-column bucket
    expected = 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * head_dim * positions * 2 * BF16
    assert m.kv_positions == positions
    assert m.kv_bytes == expected


@pytest.mark.slow
def test_plan_peak_holds_weights_and_kv_and_the_decode_step_is_clean(padt3b):
    _, _, parameters, text_params, m = padt3b
    assert m.peak_bytes >= parameters * BF16 + m.kv_bytes
    assert {s["name"]: s["status"] for s in m.stages}["decode step 2"] == "ran"
    assert m.decode_errors == []  # no host sync or device mismatch inside a decode step
    assert all(s["status"] == "ran" for s in m.stages), m.stages
    # a decode step reads the whole static cache once, and the text model's weights
    assert m.decode_read_parts["kv_cache"] == m.kv_bytes
    assert m.decode_read_parts["weights"] >= text_params * BF16
    assert m.decode_read_bytes == sum(m.decode_read_parts.values())


@pytest.mark.slow
def test_qwen_baseline_kv_cache_at_its_final_length():
    config, folder = model_files(str(CONFIGS / "qwen2_5_vl_3b_instruct.json"))
    shape, _ = batch_shape(config, folder, "qwen2_5_vl", Task.REC, 2, 16, None)
    session = Session(config, "qwen2_5_vl", "bfloat16", shape)
    try:
        m = session.measure(2)
        parameters = session.parameters
    finally:
        session.close()
    text = config.get("text_config", config)
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    positions = shape.prompt_tokens + 16  # generate's DynamicCache: prompt + every new token
    assert m.kv_bytes == 2 * text["num_hidden_layers"] * text["num_key_value_heads"] * head_dim * positions * 2 * BF16
    assert m.parts["weights"] == parameters * BF16
    assert m.peak_bytes >= parameters * BF16 + m.kv_bytes


# -- the batch search ---------------------------------------------------------------------------------
def test_largest_batch_is_the_last_that_fits_on_an_affine_peak():
    calls = []

    def measure(b):  # an affine peak, as the plan's is
        calls.append(b)
        return type("M", (), {"peak_bytes": 1000 + 37 * b, "batch": b})()

    for usable in (1000 + 37 * 5, 1000 + 37 * 5 + 36, 1000 + 37 * 200 + 1):
        best, _ = largest_batch(measure, usable, measure(32), 1)
        assert 1000 + 37 * best <= usable < 1000 + 37 * (best + 1)
    assert largest_batch(measure, 999, measure(32), 1)[0] == 0


def shallow_3b() -> dict:
    """PaDT-3B's released widths with one text and one vision block: the real path, fast."""
    from padt_eval.models.padt.fake_run import with_layers

    config, _ = model_files(str(CONFIGS / "padt_rec_3b.json"))
    return with_layers(config, 1, 1)


@pytest.fixture(scope="module")
def tiny_session():
    config = shallow_3b()
    shape, _ = batch_shape(config, None, "padt", Task.REC, 2, 16, (224, 224))
    session = Session(config, "padt", "bfloat16", shape)
    yield session
    session.close()


@pytest.mark.slow
def test_largest_batch_grows_with_card_memory_and_each_answer_is_measured(tiny_session):
    one, two = tiny_session.measure(1), tiny_session.measure(2)
    per = two.peak_bytes - one.peak_bytes
    answers = []
    for extra in (3, 9, 20):
        usable = one.peak_bytes + extra * per + per // 2
        best, _ = largest_batch(tiny_session.measure, usable, two, 1)
        assert tiny_session.measure(best).peak_bytes <= usable < tiny_session.measure(best + 1).peak_bytes
        answers.append(best)
    assert answers == sorted(answers) and answers[0] < answers[-1]


def test_usable_memory_leaves_the_context_and_fragmentation_margin():
    h100 = cards.card("h100-80gb")
    assert cards.usable_bytes(h100.memory_bytes) == int((h100.memory_bytes - cards.GIB) * 0.9)
    assert cards.usable_bytes(10 * cards.GIB, context=False) == int(10 * cards.GIB * 0.9)
    assert h100.floor_ms(3_350_000_000) == pytest.approx(1.0)  # 3.35 GB at 3350 GB/s


# -- the command ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_plan_json_schema(tmp_path):
    from padt_eval.cli import app

    config = tmp_path / "config.json"
    config.write_text(json.dumps(shallow_3b()))
    args = ["plan", "--model", str(config), "-t", "rec", "-b", "2", "--max-new-tokens", "8", "--image-size", "224x224"]
    r = CliRunner().invoke(app, [*args, "--gpu-memory", "1.05", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["schema"] == 1 and d["family"] == "padt" and d["task"] == "rec" and d["batch"] == 2
    assert set(d["measured"]["parts"]) == {"weights", "buffers", "kv_cache", "decode_buffers", "activations"}
    assert d["measured"]["peak_bytes"] == sum(d["measured"]["parts"].values())
    assert isinstance(d["largest_batch"], int) and d["largest_batch"] >= 0
    assert d["card"]["memory_bytes"] == int(1.05 * cards.GIB)
    assert d["dtype"] == "float32"  # PaDT's loader default, on every device
    assert d["floor_ms_per_step"] is None  # a bare memory size has no bandwidth
    assert {s["name"] for s in d["measured"]["stages"]} >= {"vision", "prefill", "decode step 1", "decoder", "postprocess"}
    for key in ("weights_bytes", "parameters", "usable_bytes", "fits", "shape", "notes", "at_largest"):
        assert key in d


def test_plan_refuses_an_unknown_card():
    from padt_eval.cli import app

    r = CliRunner().invoke(app, ["plan", "--model", str(TINY), "--gpu", "V100"])
    assert r.exit_code == 2 and "H100-80GB" in r.output


# -- -b auto on the CPU -------------------------------------------------------------------------------
def test_auto_batch_on_cpu_falls_back_with_its_message(capsys):
    from padt_eval.runner.auto_batch import CPU_FALLBACK, resolve_batch_size

    assert resolve_batch_size("auto", device="cpu", model="x", family="padt", task="rec", options={}) == 8
    assert CPU_FALLBACK in capsys.readouterr().err
    assert resolve_batch_size(5, device="cpu", model="x", family="padt", task="rec", options={}) == 5


def test_auto_batch_run_records_auto_and_the_resolved_number(synth_root, tmp_path, capfd):
    from padt_eval import api
    from padt_eval.options import DataOptions, ModelOptions, OutputOptions, RunOptions, batch_size_option
    from padt_eval.runner.auto_batch import CPU_FALLBACK

    result = api.run_model(
        Task.RES,
        "refcoco_val",
        ModelOptions("colour-finder"),
        data=DataOptions(data_root=synth_root),
        run=RunOptions(1, batch_size=batch_size_option("auto"), loader_workers=0),
        output=OutputOptions(tmp_path / "run"),
    )
    assert CPU_FALLBACK in capfd.readouterr().err
    out = Path(result.out_dir) if hasattr(result, "out_dir") else tmp_path / "run"
    model = json.loads((out / "model.json").read_text())
    assert model["batch_size"] == 8 and model["batch_size_requested"] == "auto"
    runner = json.loads((out / "manifest.json").read_text())["runner"]
    assert runner["batch_size"] == "auto" and runner["batch_size_resolved"] == 8
