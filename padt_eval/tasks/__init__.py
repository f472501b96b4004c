"""Tasks: per-family prompts and the metric each task is scored with."""
