"""The family registry and the parsers import without torch or transformers (scoring a
predictions file, `padt-eval models`, must not pay for them)."""

from __future__ import annotations

import subprocess
import sys


def test_registry_and_parsers_do_not_import_torch():
    code = (
        "import sys; from padt_eval.models.base import families; "
        "import padt_eval.models.coords; fams = families(); "
        "assert {'qwen2_5_vl', 'vlm_r1', 'qwen2_vl', 'qwen3_vl', 'internvl', 'kosmos2', 'florence2', 'shikra', 'minigpt_v2', "
        "'ferret', 'cogvlm', 'lisa', 'groma', 'padt'} <= set(fams), sorted(fams); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
