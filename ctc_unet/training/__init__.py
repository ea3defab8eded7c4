"""Training: the split, samples and augmentation, the loss, the loop and its run directory,
schedules, signals, DDP."""
