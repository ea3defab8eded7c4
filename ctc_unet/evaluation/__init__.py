"""Evaluation: CTC measures (py-ctcmetrics), SEG on arrays, ISBI 2012 measures, reports."""
