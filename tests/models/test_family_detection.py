"""Family detection on the released checkpoints' config.json files (tests/fixtures/configs).

Each fixture reproduces the keys and values of a released config.json (PaDT: as the
reference trainer on transformers 4.50 saves it: the Qwen2.5-VL config plus `vl_decoder`
and `use_visual_prototype_projection`). Detection must give one family with no --family,
for a local folder, for a hub id whose config is in the HF cache, and for a hub id not
downloaded (by name); --family still overrides.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from padt_eval.core.errors import UsageError
from padt_eval.models.base import families
from padt_eval.models.loading import detect_family, family_of

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"

# fixture file -> (released hub id, family)
RELEASED = {
    "padt_rec_3b.json": ("PaDT-MLLM/PaDT_REC_3B", "padt"),
    "padt_rec_7b.json": ("PaDT-MLLM/PaDT_OVD_7B", "padt"),
    "qwen2_5_vl_3b_instruct.json": ("Qwen/Qwen2.5-VL-3B-Instruct", "qwen2_5_vl"),
    "qwen2_5_vl_7b_instruct.json": ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2_5_vl"),
    "qwen2_vl_7b_instruct.json": ("Qwen/Qwen2-VL-7B-Instruct", "qwen2_vl"),
    "qwen3_vl_4b_instruct.json": ("Qwen/Qwen3-VL-4B-Instruct", "qwen3_vl"),
    "qwen3_vl_8b_instruct.json": ("Qwen/Qwen3-VL-8B-Instruct", "qwen3_vl"),
    "internvl3_2b_hf.json": ("OpenGVLab/InternVL3-2B-hf", "internvl"),
    "kosmos2_patch14_224.json": ("microsoft/kosmos-2-patch14-224", "kosmos2"),
    "florence2_base.json": ("florence-community/Florence-2-base", "florence2"),
}
VLM_R1_IDS = ("omlab/Qwen2.5VL-3B-VLM-R1-REC-500steps", "omlab/VLM-R1-Qwen2.5VL-3B-OVD-0321")


def _config(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text(encoding="utf-8"))


def test_every_fixture_is_listed():
    assert sorted(p.name for p in CONFIGS.glob("*.json")) == sorted(RELEASED)


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_local_folder_with_the_released_config(tmp_path, name):
    folder = tmp_path / "checkpoint"  # a neutral folder name: only config.json decides
    folder.mkdir()
    shutil.copy(CONFIGS / name, folder / "config.json")
    assert detect_family(str(folder)) == RELEASED[name][1]


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_hub_id_with_its_config_in_the_hf_cache(tmp_path, monkeypatch, name):
    """The cache layout huggingface_hub writes: models--org--name/{refs/main, snapshots/SHA/}."""
    import huggingface_hub.constants

    repo_id, family = RELEASED[name]
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(sha)
    (repo / "snapshots" / sha).mkdir(parents=True)
    shutil.copy(CONFIGS / name, repo / "snapshots" / sha / "config.json")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert detect_family(repo_id) == family


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_hub_id_not_downloaded_is_detected_by_name(tmp_path, monkeypatch, name):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    repo_id, family = RELEASED[name]
    assert detect_family(repo_id) == family


@pytest.mark.parametrize("repo_id", VLM_R1_IDS)
def test_vlm_r1_by_name_over_a_qwen2_5_vl_config(repo_id):
    assert family_of(_config("qwen2_5_vl_3b_instruct.json"), repo_id) == "vlm_r1"
    assert family_of(None, repo_id) == "vlm_r1"


def test_a_padt_config_is_padt_whatever_its_name():
    cfg = _config("padt_rec_3b.json")
    for name in ("/ckpt/Qwen2.5-VL-3B-finetune", "/ckpt/VLM-R1-like", "/ckpt/x"):
        assert family_of(cfg, name) == "padt"
    # either marker alone is enough
    only_decoder = {**cfg, "architectures": ["Qwen2_5_VLForConditionalGeneration"]}
    only_arch = {k: v for k, v in cfg.items() if k != "vl_decoder"}
    assert family_of(only_decoder, "/x") == family_of(only_arch, "/x") == "padt"


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_no_two_families_claim_a_released_config_at_one_level(name):
    """Ambiguity cannot arise: at the deciding level exactly one family matches (by name
    and by config, under the released id and under a neutral path)."""
    cfg = _config(name)
    repo_id, _ = RELEASED[name]
    for config, model in ((cfg, repo_id), (cfg, "/ckpt/model"), (None, repo_id)):
        levels: dict[int, list[str]] = {}
        for fam in families().values():
            if fam.detect is not None and fam.detect(config or {}, model):
                levels.setdefault(fam.precedence, []).append(fam.name)
        assert levels and len(levels[min(levels)]) == 1, (name, model, levels)


def test_family_flag_overrides_detection(tmp_path, monkeypatch):
    """--family wins over config.json: load_model asks the named family's loader."""
    from padt_eval.models import base, loading

    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copy(CONFIGS / "padt_rec_3b.json", folder / "config.json")
    asked = []
    fam = base.get_family("qwen2_5_vl")
    monkeypatch.setitem(
        base._FAMILIES, "qwen2_5_vl", type(fam)(**{**fam.__dict__, "loader": lambda m, **o: asked.append(m) or "adapter"})
    )
    assert loading.load_model(str(folder), family="qwen2_5_vl") == "adapter"
    assert asked == [str(folder)]


def test_unknown_config_names_the_way_out(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UsageError, match="pass --family"):
        detect_family(str(folder))
