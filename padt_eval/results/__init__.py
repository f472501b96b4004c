"""The results folder of a run: its writer and its manifest."""
