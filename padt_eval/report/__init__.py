"""Results folders, manifests and terminal tables."""
