"""Stage-by-stage parity of our PaDT implementation with the reference's golden fixture.

Everything is driven by the fixture's own files: every tensor listed in `manifest.json`
is compared (one test each), and every batch, sample and object listed in `golden.json`
is checked; no counts are written here. The fixture folder comes from
PADT_PARITY_FIXTURE (default tests/fixtures/padt_tiny, committed in the repository);
without it the module fails to import, so the run fails instead of skipping.

Tolerances (the fixture's README and manifest): ids, texts, parses, pixel boxes exact;
LM logits atol 1e-4 + rtol 1e-5; every other float atol 1e-5; masks equal except at
pixels whose golden probability lies within 1e-5 of 0.5 (counted and printed).
Generated runs are parsed in reference-compatible mode (`compat=True`), which is what the
golden parses are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from padt_fixture_paths import load_manifest, parity_fixture_dir

from padt_eval.testing.teacher_force import prototype_features, teacher_force
from tests import run_summary

MANIFEST = load_manifest()  # raises when the fixture is missing: a failure, never a skip
TENSOR_NAMES = sorted(MANIFEST["tensors"])
GOLDEN = json.loads((parity_fixture_dir() / "golden.json").read_text(encoding="utf-8"))
BATCHES = sorted(GOLDEN.get("batches", {}))

LOGIT_ATOL, LOGIT_RTOL, FLOAT_ATOL, MASK_BAND = 1e-4, 1e-5, 1e-5, 1e-5
GEN_KEY = re.compile(r"^generate(?:_rp(?P<rp>[0-9]+(?:\.[0-9]+)?))?$")
REPORT: dict[str, float] = {}
MASK_NEAR: dict[str, int] = {}


def generation_keys(batch: dict) -> list[str]:
    return sorted(k for k in batch if GEN_KEY.match(k))


class FixtureRun:
    """Runs our implementation on the fixture once and hands out named results."""

    def __init__(self, folder: Path):
        from safetensors.torch import load_file

        from padt_eval.models.padt.checkpoint import build_model, resolve

        self.folder = folder
        self.tensors = load_file(str(folder / MANIFEST.get("tensors_file", "golden_tensors.safetensors")))
        run = MANIFEST.get("golden_run", {})
        self.max_new_tokens = int(run.get("max_new_tokens", 24))
        self.resolved = resolve(str(folder / "checkpoint"))
        self.model, _ = build_model(self.resolved, dtype=run.get("dtype", "float32"), device="cpu", attn="sdpa")
        self._batches: dict[str, dict] = {}

    def pipeline(self, repetition_penalty=None):
        from padt_eval.models.padt.generation import GenerationSettings
        from padt_eval.models.padt.pipeline import PadtPipeline
        from padt_eval.models.padt.processor import PadtProcessor
        from padt_eval.models.padt.tokenizer import PadtTokenizer

        tok = PadtTokenizer.from_folder(self.resolved.folder)  # fresh: the VRT vocabulary grows per call
        proc = PadtProcessor.from_folder(self.resolved.folder, tok, self.model.cfg.merge_size)
        settings = GenerationSettings.from_checkpoint(
            self.resolved.folder, max_new_tokens=self.max_new_tokens, repetition_penalty=repetition_penalty
        )
        return PadtPipeline(self.model, proc, settings, compat=True)

    def images(self, pipe, names):
        from PIL import Image

        out = []
        for name in names:
            files = sorted((self.folder / "images").glob(f"{name}.*"))
            assert files, f"image {name} missing from the fixture"
            with Image.open(files[0]) as im:
                out.append(pipe.processor.prepare_image(im.convert("RGB")))
        return out

    def batch(self, name: str) -> dict:
        if name not in self._batches:
            from padt_eval.models.padt.rope import rope_index

            gb = GOLDEN["batches"][name]
            res: dict = {"gen": {}}
            for key in generation_keys(gb):
                rp = GEN_KEY.match(key).group("rp")
                pipe = self.pipeline(float(rp) if rp else None)
                imgs = self.images(pipe, gb["images"])
                res["gen"][key] = pipe.run(imgs, gb["prompts"], record_logits=True)
                res.setdefault("tokenizer_len", len(pipe.processor.tokenizer))
                res.setdefault("pipe", pipe)
            pipe = self.pipeline()
            imgs = self.images(pipe, gb["images"])
            if "teacher_forced" in gb:
                tf = teacher_force(pipe, imgs, gb["prompts"], gb["teacher_forced"]["completions_in"])
                res["tf"] = tf
                res["tf_proto_feats"] = prototype_features(pipe, tf)
                res["tf_proto_decode"] = pipe.vl_decode(res["tf_proto_feats"], tf.encoded, tf.inputs.image_grid_thw)
                res.setdefault("tokenizer_len", len(pipe.processor.tokenizer))
            res.setdefault("pipe", pipe)
            first = res["tf"] if "tf" in res else next(iter(res["gen"].values()))
            res["first"] = first
            res["rope"] = rope_index(
                first.inputs.input_ids,
                first.inputs.attention_mask,
                first.inputs.image_grid_thw,
                image_token_id=self.model.cfg.image_token_id,
                merge_size=self.model.cfg.merge_size,
            )
            self._batches[name] = res
        return self._batches[name]

    # -- name -> our tensor ------------------------------------------------------------------
    def ours(self, name: str) -> torch.Tensor:
        batch, rest = name.split(".", 1)
        res = self.batch(batch)
        first = res["first"]
        stage, _, field = rest.partition(".")
        if stage == "inputs":
            if field == "mrope_position_ids":
                return res["rope"][0]
            if field == "rope_deltas":
                return res["rope"][1]
            return getattr(first.inputs, field)
        if stage == "vision":
            enc = first.encoded
            return {
                "merged_embeds": enc.vision.merged,
                "high_res_embeds": enc.vision.high_res,
                "pe_cos": enc.vision.cos,
                "pe_sin": enc.vision.sin,
                "window_index": enc.vision.window_index,
                "prototypes": enc.prototypes,
            }[field]
        if stage == "prefill":
            gen_run = next(iter(res["gen"].values()))
            if field == "logit_mask":
                return gen_run.encoded.vocab.mask
            if field == "last_logits":
                return gen_run.generation.step_logits[:, 0]
        if stage == "tf_protofeats":
            return self._decoded(res["tf_proto_decode"], field.split(".", 1)[1], res["tf"])
        if stage == "tf" or GEN_KEY.match(stage):
            run = res["tf"] if stage == "tf" else res["gen"][stage]
            return self._run_tensor(run, field, res)
        raise KeyError(f"no resolver for fixture tensor {name!r}")

    def _run_tensor(self, run, field: str, res: dict) -> torch.Tensor:
        gen = run.generation
        simple = {
            "sequences_global_ids": lambda: gen.sequences,
            "sequences_local_ids": lambda: torch.cat((run.inputs.input_ids, run.completion_ids), dim=1),
            "step_logits": lambda: gen.step_logits,
            "step_last_hidden": lambda: gen.step_hidden,
            "completion_ids_local": lambda: run.completion_ids,
            "completion_mask": lambda: run.completion_mask,
            "input_ids_global": lambda: run.input_ids_global,
            "completion_logits": lambda: run.tf_logits,
            "last_hidden_shifted": lambda: run.tf_hidden,
        }
        if field in simple:
            return simple[field]()
        m = re.fullmatch(r"(vrt_feats|vrt_prototype_feats)\.sample(\d+)\.object(\d+)", field)
        if m:
            feats = run.features if m.group(1) == "vrt_feats" else res["tf_proto_feats"]
            return feats[int(m.group(2))][int(m.group(3))]
        if field.startswith("decode."):
            return self._decoded(run.decoded, field.split(".", 1)[1], run)
        m = re.fullmatch(r"post\.object(\d+)\.mask_prob_resized", field)
        if m:
            flat = [o for objs in run.objects for o in objs]
            return flat[int(m.group(1))].mask_prob
        raise KeyError(field)

    @staticmethod
    def _decoded(dec, field: str, run) -> torch.Tensor:
        return {
            "pred_boxes": lambda: dec.boxes,
            "pred_score_logits": lambda: dec.score_logits,
            "pred_score_sigmoid": lambda: dec.score_logits.sigmoid(),
            "pred_mask_logits": lambda: dec.mask_logits,
            "pred_mask_valid_hw": lambda: dec.valid_hw,
        }[field]()


@pytest.fixture(scope="module")
def fx() -> FixtureRun:
    return FixtureRun(parity_fixture_dir())


def _tolerance(name: str) -> tuple[float, float]:
    if name.endswith(("last_logits", "step_logits", "completion_logits")):
        return LOGIT_ATOL, LOGIT_RTOL
    return FLOAT_ATOL, 0.0


@pytest.mark.parametrize("name", TENSOR_NAMES)
def test_tensor(fx: FixtureRun, name: str):
    golden = fx.tensors[name]
    meta = MANIFEST["tensors"][name]
    ours = fx.ours(name).detach().cpu()
    assert list(ours.shape) == list(golden.shape) == list(meta["shape"]), f"{name}: shape {list(ours.shape)}"
    if not golden.is_floating_point():
        assert torch.equal(ours.to(golden.dtype), golden), f"{name}: discrete values differ"
        REPORT[name] = 0.0
        return
    g, o = golden.double(), ours.double()
    assert torch.equal(torch.isinf(o), torch.isinf(g)), f"{name}: -inf (masked) entries differ"
    fin = torch.isfinite(g)
    diff = float((o[fin] - g[fin]).abs().max()) if bool(fin.any()) else 0.0
    REPORT[name] = diff
    atol, rtol = _tolerance(name)
    assert torch.allclose(o[fin], g[fin], atol=atol, rtol=rtol), f"{name}: max |diff| {diff:.3g} > atol {atol}"


def test_every_manifest_tensor_has_a_resolver(fx: FixtureRun):
    unresolved = []
    for name in TENSOR_NAMES:
        try:
            fx.ours(name)
        except KeyError:
            unresolved.append(name)
    assert not unresolved, f"fixture tensors nobody checks: {unresolved}"


@pytest.mark.parametrize("batch", BATCHES)
def test_prompts_tokenizer_and_info(fx: FixtureRun, batch: str):
    gb = GOLDEN["batches"][batch]
    res = fx.batch(batch)
    assert res["first"].inputs.prompt_texts == gb["prompt_texts"]
    assert [list(s) for s in res["first"].inputs.image_sizes] == gb["image_sizes_wh"]
    tok = res["pipe"].processor.tokenizer
    for text, tid in gb.get("vrt_token_ids_check", {}).items():
        assert tok.token_id(text) == tid
    if "tokenizer_len_after_call" in gb:
        assert res["tokenizer_len"] == gb["tokenizer_len_after_call"]
    info = GOLDEN.get("info", {})
    if "embed_size" in info:
        assert fx.model.cfg.vocab_size == info["embed_size"] == tok.embed_size
    if "prompt_length" in gb:
        assert res["first"].inputs.input_ids.shape[1] == gb["prompt_length"]


@pytest.mark.parametrize("batch", BATCHES)
def test_prefill_top20(fx: FixtureRun, batch: str):
    gb = GOLDEN["batches"][batch]
    if "prefill_top20" not in gb:
        pytest.skip("no prefill_top20 in golden.json")
    logits = fx.ours(f"{batch}.prefill.last_logits")
    for b, top in enumerate(gb["prefill_top20"]):
        k = len(top["ids"])
        vals, ids = torch.topk(logits[b].double(), k)
        np.testing.assert_allclose(vals.numpy(), top["values"], atol=LOGIT_ATOL, rtol=LOGIT_RTOL)
        # the ranking is exact except between values closer than the logit tolerance
        for i, (ours_id, gold_id) in enumerate(zip(ids.tolist(), top["ids"])):
            if ours_id != gold_id:
                assert abs(logits[b, gold_id].item() - vals[i].item()) <= LOGIT_ATOL, (b, i)


def _sections(batch: str) -> list[str]:
    gb = GOLDEN["batches"][batch]
    return generation_keys(gb) + (["teacher_forced"] if "teacher_forced" in gb else [])


PARSE_CASES = [(b, s) for b in BATCHES for s in _sections(b)]


def _run_for(fx: FixtureRun, batch: str, section: str):
    res = fx.batch(batch)
    return res["tf"] if section == "teacher_forced" else res["gen"][section]


@pytest.mark.parametrize("batch,section", PARSE_CASES)
def test_texts_and_parses(fx: FixtureRun, batch: str, section: str):
    gold = GOLDEN["batches"][batch][section]
    run = _run_for(fx, batch, section)
    if "completion_ids_local" in gold:
        assert run.completion_ids.tolist() == gold["completion_ids_local"]
    assert run.token_strings == gold["per_token_strings"]
    assert [p.text for p in run.parses] == gold["completions_decoded"]
    if "completions_for_json" in gold:
        assert [p.text for p in run.parses] == gold["completions_for_json"]
    assert [[o.label for o in p.objects] for p in run.parses] == gold["parsed_labels"]
    assert [[o.vrt_text for o in p.objects] for p in run.parses] == gold["parsed_vrts"]
    assert [len(p.objects) for p in run.parses] == gold["num_objects_per_sample"]
    assert run.decoded.sample_idx == gold["decode_sample_idx"]
    if "vrt_feat_rows_per_object" in gold:
        assert [[int(f.shape[0]) for f in objs] for objs in run.features] == gold["vrt_feat_rows_per_object"]
    # a sample the reference emptied through its bare except is reported, never silent
    for p in run.parses:
        if not p.ok:
            assert p.reason and "reference parser rule" in p.reason


@pytest.mark.parametrize("batch,section", PARSE_CASES)
def test_post_processed(fx: FixtureRun, batch: str, section: str):
    from padt_eval.core import rle

    gold = GOLDEN["batches"][batch][section]["post_processed"]
    run = _run_for(fx, batch, section)
    flat = [(b, o) for b, objs in enumerate(run.objects) for o in objs]
    assert len(flat) == len(gold)
    tensor_key = "tf" if section == "teacher_forced" else section
    for k, ((b, o), g) in enumerate(zip(flat, gold)):
        assert b == g["sample_idx"]
        assert o.pred.label == g["category"]
        assert o.compat_xywh == g["bbox"], f"object {k}: box {o.compat_xywh} vs {g['bbox']}"
        x, y, w, h = g["bbox"]
        assert o.pred.bbox == [float(x), float(y), float(x + w), float(y + h)]
        assert abs(o.pred.score - g["score"]) <= FLOAT_ATOL
        ours_mask = rle.decode(o.pred.mask)
        gold_mask = rle.decode(g["mask"])
        assert ours_mask.shape == gold_mask.shape == tuple(g["mask"]["size"])
        differ = ours_mask != gold_mask
        prob_name = f"{batch}.{tensor_key}.post.object{k}.mask_prob_resized"
        if prob_name in fx.tensors:
            near = (fx.tensors[prob_name] - 0.5).abs().numpy() <= MASK_BAND
            MASK_NEAR[prob_name] = int(near.sum())
            assert not (differ & ~near).any(), f"{prob_name}: mask differs away from the 0.5 threshold"
            if differ.any():
                print(f"note: {prob_name}: {int(differ.sum())} pixel(s) flipped within {MASK_BAND} of 0.5")
        else:
            assert not differ.any()
        if "mask_area" in g:
            assert abs(int(ours_mask.sum()) - g["mask_area"]) <= int(differ.sum())


def test_decoder_alone_on_golden_inputs(fx: FixtureRun):
    """The decoder fed the *golden* features and vision tensors (isolates the decoder)."""
    checked = 0
    for name in TENSOR_NAMES:
        m = re.fullmatch(r"(batch\w*)\.(tf|generate\w*|tf_protofeats)\.decode\.pred_boxes", name)
        if not m:
            continue
        batch, section = m.groups()
        feat_prefix = f"{batch}.tf.vrt_prototype_feats" if section == "tf_protofeats" else f"{batch}.{section}.vrt_feats"
        sample_idx = GOLDEN["batches"][batch]["teacher_forced" if section in ("tf", "tf_protofeats") else section][
            "decode_sample_idx"
        ]
        n_samples = len(GOLDEN["batches"][batch]["images"])
        feats: list[list[torch.Tensor]] = [[] for _ in range(n_samples)]
        counters = [0] * n_samples
        for s in sample_idx:
            feats[s].append(fx.tensors[f"{feat_prefix}.sample{s}.object{counters[s]}"])
            counters[s] += 1
        res = fx.batch(batch)
        enc = res["first"].encoded
        from padt_eval.models.padt.pipeline import Encoded
        from padt_eval.models.padt.vision import VisionOutputs

        t = fx.tensors
        golden_enc = Encoded(
            VisionOutputs(
                t[f"{batch}.vision.merged_embeds"],
                t[f"{batch}.vision.high_res_embeds"],
                t[f"{batch}.vision.pe_cos"],
                t[f"{batch}.vision.pe_sin"],
                t[f"{batch}.vision.window_index"],
            ),
            t[f"{batch}.vision.prototypes"],
            enc.vocab,
        )
        dec = res["pipe"].vl_decode(feats, golden_enc, t[f"{batch}.inputs.image_grid_thw"])
        for field, ours in (
            ("pred_boxes", dec.boxes),
            ("pred_score_logits", dec.score_logits),
            ("pred_mask_logits", dec.mask_logits),
        ):
            gold = t[f"{batch}.{section}.decode.{field}"]
            assert ours.shape == gold.shape
            if gold.numel():
                diff = float((ours - gold).abs().max())
                REPORT[f"[golden inputs] {batch}.{section}.decode.{field}"] = diff
                assert diff <= FLOAT_ATOL
        checked += 1
    assert checked or not TENSOR_NAMES


@pytest.mark.parametrize("attn", ["eager"])
def test_other_attention_gives_the_same_tokens(fx: FixtureRun, attn: str):
    """The language model and vision tower under another attention kernel: same ids and
    parses on every generation setting of the first batch (the fixture saw the same)."""
    from padt_eval.models.padt.checkpoint import build_model

    batch = BATCHES[0]
    gb = GOLDEN["batches"][batch]
    model, _ = build_model(fx.resolved, attn=attn)
    sdpa_model, fx.model = fx.model, model
    try:
        for key in generation_keys(gb):
            rp = GEN_KEY.match(key).group("rp")
            pipe = fx.pipeline(float(rp) if rp else None)
            run = pipe.run(fx.images(pipe, gb["images"]), gb["prompts"])
            assert torch.equal(run.generation.sequences, fx.tensors[f"{batch}.{key}.sequences_global_ids"])
            assert [[o.vrt_text for o in p.objects] for p in run.parses] == gb[key]["parsed_vrts"]
    finally:
        fx.model = sdpa_model


def _report_lines() -> list[str]:
    """The per-tensor max |diff| table, printed at the end of the session (tests/run_summary.py)."""
    if not REPORT:
        return []  # nothing compared
    width = max(len(k) for k in REPORT)
    worst = max(REPORT, key=REPORT.get)
    lines = [f"{len(REPORT)} tensors compared; largest max |diff| {REPORT[worst]:.3g} ({worst})"]
    lines += [f"{k:<{width}}  {v:.3g}" for k, v in sorted(REPORT.items())]
    lines.append(f"mask pixels within {MASK_BAND} of 0.5 (golden): " + json.dumps(MASK_NEAR))
    return lines


run_summary.register("PaDT parity, max |ours - golden| per fixture tensor", _report_lines)
