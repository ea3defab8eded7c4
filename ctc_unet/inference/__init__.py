"""Inference: overlap-tile prediction with mirrored borders (MONAI), test-time augmentation,
and the predictor that turns a run into CTC results."""
