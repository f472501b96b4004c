"""The pieces every layer shares: records, boxes, RLE, caption text, COCO categories, JSONL
and file helpers, errors. Imports nothing else of padt_eval (an import-linter contract in
pyproject.toml holds it), so any package may import it."""
