"""The runnable families the end-to-end adapter tests cover, and the tiny checkpoint each uses."""

# (family passed to --family, tiny checkpoint to use)
RUNS = [
    ("qwen2_5_vl", "qwen2_5_vl"),
    ("vlm_r1", "qwen2_5_vl"),
    ("qwen2_vl", "qwen2_vl"),
    ("qwen3_vl", "qwen3_vl"),
    ("internvl", "internvl"),
    ("kosmos2", "kosmos2"),
    ("florence2", "florence2"),
]
RUN_IDS = [family for family, _ in RUNS]
