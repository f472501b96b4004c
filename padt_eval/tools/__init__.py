"""Maintainer tools (not part of the evaluation path): `python -m padt_eval.tools.gen_docs`."""
