"""Model adapters: the interface, the family registry, PaDT and the baselines."""
