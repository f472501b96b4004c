"""The results folder of a run: its file names (`RunFolder`), its writer and readers, its manifest."""
