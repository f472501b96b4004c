"""Scoring a predictions file: predictions file x split -> metric -> results folder, no model (see score.py)."""
