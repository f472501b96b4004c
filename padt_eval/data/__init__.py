"""Split readers, the split registry, lazy images and the synthetic demo data."""
