"""Prediction with the unpadded U-Net: mirror-extrapolated borders (paper Fig. 2)."""

from __future__ import annotations

import numpy as np
import torch

from ctc_unet.geometry import input_for_output, margin


def mirror_pad(image: np.ndarray, depth: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Mirror-extrapolate (H, W) by the network margin so that one valid forward covers it.

    Returns the padded (H', W') image (valid input sizes) and the (H, W) to crop the output to.
    """
    m = margin(depth)
    h, w = image.shape
    hin, win = input_for_output(h, depth), input_for_output(w, depth)
    padded = np.pad(image, ((m, hin - h - m), (m, win - w - m)), mode="reflect")
    return padded, (h, w)


@torch.inference_mode()
def predict_whole(model: torch.nn.Module, image: np.ndarray, device: torch.device | str = "cpu"
                  ) -> np.ndarray:
    """Class probabilities (K, H, W) float32 of an (H, W) image from one valid forward pass
    over the mirror-padded image."""
    was_training = model.training
    model.eval()
    padded, (h, w) = mirror_pad(image.astype(np.float32), model.depth)
    x = torch.from_numpy(padded)[None, None].to(device)
    prob = torch.softmax(model(x).float(), dim=1)[0, :, :h, :w]
    model.train(was_training)
    return prob.cpu().numpy()
