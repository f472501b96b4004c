"""Split readers, one module per annotation layout."""
