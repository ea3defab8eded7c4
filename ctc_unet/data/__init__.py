"""Data: the dataset registry, downloads, the CTC and ISBI 2012 layouts, annotated frames,
inspection, and the synthetic dataset of the demo and tests."""
