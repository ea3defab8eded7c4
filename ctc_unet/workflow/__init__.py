"""Workflows that compose the pipeline stages for one job each (train a run directory, predict
sequences with it, evaluate it, track a folder of masks); the public API and the command line
call these."""
