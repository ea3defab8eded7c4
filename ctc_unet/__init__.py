"""ctc-unet: the original U-Net (Ronneberger et al., 2015) for the Cell Tracking Challenge.

The Python API (``ctc_unet.api``) is available from the package itself::

    import ctc_unet
    model = ctc_unet.load_model("runs/DIC-C2DH-HeLa-cpu")
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ctc-unet")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

_API = ("Model", "load_model", "train", "refit", "predict", "evaluate", "submit", "track", "export")

__all__ = ["CtcUnetError", "__version__", *_API]


def __getattr__(name: str):  # the API is imported on first use: `ctc-unet --help` stays fast
    if name in _API:
        from ctc_unet import api

        return getattr(api, name)
    if name == "CtcUnetError":
        from ctc_unet.errors import CtcUnetError

        return CtcUnetError
    raise AttributeError(f"module 'ctc_unet' has no attribute {name!r}")
