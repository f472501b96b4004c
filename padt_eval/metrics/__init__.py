"""Pure metrics over (Sample, Prediction) pairs."""
