"""The runner: one `RunJob` (job.py) claimed, planned, run by its ranks and merged (orchestrate.py)."""
