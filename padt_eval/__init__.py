"""padt-eval: the fair, fast, reproducible referee for PaDT and coordinate-text MLLMs."""

__version__ = "0.1.0"
