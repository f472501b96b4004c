"""Pure, mergeable metrics over (Sample, Prediction) pairs."""
