"""What a network's output must look like to be a prediction: a model whose weights went
NaN, or that learned nothing (the same probability everywhere), predicts empty masks that
look like a result; these checks turn that into an error."""

from __future__ import annotations

import numpy as np

CONSTANT_SPAN = 1e-6  # a probability map whose values span less than this is constant


def output_problem(prob: np.ndarray, image: np.ndarray) -> str | None:
    """Why class probabilities ``prob`` (K, H, W) of the input ``image`` (..., H, W) are not
    a prediction, or None: values that are NaN or infinite, or one value everywhere while the
    image itself is not uniform (a uniform image may give a uniform answer)."""
    finite = np.isfinite(prob)
    if not finite.all():
        return f"{int((~finite).sum())} of {prob.size} values are NaN or infinite"
    span = float(prob.max() - prob.min()) if prob.size else 0.0
    image_span = float(np.max(image) - np.min(image)) if np.size(image) else 0.0
    if prob.size > 1 and span < CONSTANT_SPAN and image_span > 0:
        return (f"constant ({float(prob.flat[0]):.4g} everywhere) although the image is not: "
                "the model has not learned, or its weights are broken")
    return None
