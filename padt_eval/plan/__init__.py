"""GPU memory and decode-speed planning on fake CUDA (`padt-eval plan`, `-b auto`).

`planner.plan` builds a model from its config.json on fake CUDA, runs one batch through
the adapter's path under `tracker.MemoryTracker`, and reports the peak by part, the
bytes a decode step reads, and the largest batch that fits a card (`cards`).
"""
