"""ctc-unet: the original U-Net (Ronneberger et al., 2015) for the Cell Tracking Challenge."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ctc-unet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
