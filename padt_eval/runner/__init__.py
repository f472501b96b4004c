"""Driving adapters over samples: the single-process loop (and later the sharded runner)."""
