"""Fetch RefCOCO/+/g, COCO val2017 and RIC into the data root: resumable, verified, idempotent."""
