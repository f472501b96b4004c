"""Split readers and the split registry."""
