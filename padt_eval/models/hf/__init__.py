"""Adapters for the coordinate-text families that transformers ships natively (imported only when a model is loaded)."""
