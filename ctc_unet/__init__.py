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

# every public name of ctc_unet.api (tests/test_api.py keeps the two lists equal)
_API = ("CtcUnetError", "Demo", "Evaluation", "Model", "RunDir", "TrackRecord", "datasets",
        "demo", "download", "environment", "evaluate", "export", "inspect", "link",
        "load_model", "predict", "read_reference", "read_result", "refit", "score_masks",
        "score_tracks",
        "submit", "targets", "track", "train", "write_result")

__all__ = ["__version__", *_API]


def __getattr__(name: str):  # the API is imported on first use: `ctc-unet --help` stays fast
    if name in _API:
        from ctc_unet import api

        return getattr(api, name)
    raise AttributeError(f"module 'ctc_unet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*(n for n in globals() if n.startswith("__")), *_API})
